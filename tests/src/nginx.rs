//! The system nginx as a child process (being written).
