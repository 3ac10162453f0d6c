//! Open-file limit and signals to our children: [`netkit::sys`] re-exported
//! (the kit's only `unsafe` lives there).

pub use netkit::sys::*;
