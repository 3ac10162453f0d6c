//! A `getopt_long` work-alike with glibc's permutation and diagnostics.
//!
//! Only what wrk's option table needs: short options with or without a
//! required argument, long options with `--name value` / `--name=value` and
//! unambiguous prefixes, `--` ending option parsing, non-options collected
//! in order (the URL and the script's extra words).

/// Short options: wrk's `t:c:d:s:H:T:Lrv?` plus wrk2's `R:UB`.
const SHORT: &str = "t:c:d:s:H:T:Lrv?R:UB";

/// (name, takes an argument, returned option char), wrk's order first
/// (it decides the order of the ambiguity list), then wrk2's options.
const LONG: &[(&str, bool, char)] = &[
    ("connections", true, 'c'),
    ("duration", true, 'd'),
    ("threads", true, 't'),
    ("script", true, 's'),
    ("header", true, 'H'),
    ("latency", false, 'L'),
    ("timeout", true, 'T'),
    ("help", false, 'h'),
    ("version", false, 'v'),
    ("rate", true, 'R'),
    ("u_latency", false, 'U'),
    ("batch_latency", false, 'B'),
];

/// Our extensions (README "Extensions"): matched only when spelled in full,
/// so they never take part in prefix matching. Every abbreviation stock
/// wrk rejects (`--h`, `--e`, `--j`, `--u`...) keeps stock's diagnostic and
/// ambiguity list, and `--u` still means `--u_latency`.
const EXACT: &[(&str, bool, char)] = &[
    ("json", true, JSON),
    ("hdr", true, HDR),
    ("errors", true, ERRORS),
    ("unix-socket", true, UNIX_SOCKET),
    ("start-at", true, START_AT),
];

/// Option chars returned for the [`EXACT`] options (no short form: these
/// chars are outside `SHORT`, so `-j` etc. stay invalid).
pub const JSON: char = '\u{e000}';
pub const HDR: char = '\u{e001}';
pub const ERRORS: char = '\u{e002}';
pub const UNIX_SOCKET: char = '\u{e003}';
pub const START_AT: char = '\u{e004}';

/// Whether `POSIXLY_CORRECT` is set (glibc then stops at the first non-option).
pub fn posixly_correct() -> bool {
    std::env::var_os("POSIXLY_CORRECT").is_some()
}

/// Iterates options in command-line order; see [`Parser::into_operands`].
pub struct Parser<'a> {
    args: &'a [String],
    /// Index of the next argument to look at.
    next: usize,
    /// Remaining characters of a short-option cluster.
    cluster: Option<(usize, usize)>,
    operands: Vec<String>,
    posix: bool,
    done: bool,
}

/// One parsed option: its char and its argument, if it takes one.
pub type Opt = (char, Option<String>);

impl<'a> Parser<'a> {
    pub fn new(args: &'a [String], posix: bool) -> Parser<'a> {
        Parser {
            args,
            next: 0,
            cluster: None,
            operands: Vec::new(),
            posix,
            done: false,
        }
    }

    /// The non-option arguments in order (call after the iteration ended).
    pub fn into_operands(mut self) -> Vec<String> {
        if !self.done {
            self.operands
                .extend(self.args[self.next.min(self.args.len())..].iter().cloned());
        }
        self.operands
    }

    fn short(&mut self, arg_idx: usize, pos: usize) -> Result<Opt, String> {
        let arg = &self.args[arg_idx];
        let c = arg[pos..].chars().next().unwrap_or('?');
        let after = pos + c.len_utf8();
        self.cluster = (after < arg.len()).then_some((arg_idx, after));
        let spec = SHORT.find(c).filter(|_| c != ':');
        let Some(i) = spec else {
            return Err(format!("invalid option -- '{c}'"));
        };
        let takes_arg = SHORT[i + 1..].starts_with(':');
        if !takes_arg {
            return Ok((c, None));
        }
        if let Some((_, p)) = self.cluster.take() {
            return Ok((c, Some(arg[p..].to_string())));
        }
        match self.args.get(self.next) {
            Some(v) => {
                self.next += 1;
                Ok((c, Some(v.clone())))
            }
            None => Err(format!("option requires an argument -- '{c}'")),
        }
    }

    fn long(&mut self, body: &str) -> Result<Opt, String> {
        let (name, value) = match body.find('=') {
            Some(i) => (&body[..i], Some(body[i + 1..].to_string())),
            None => (body, None),
        };
        let exact = LONG.iter().chain(EXACT).find(|o| o.0 == name);
        let found = match exact {
            Some(o) => *o,
            None => {
                let matches: Vec<_> = LONG.iter().filter(|o| o.0.starts_with(name)).collect();
                match matches.as_slice() {
                    [] => return Err(format!("unrecognized option '--{body}'")),
                    [one] => **one,
                    many => {
                        let list: String = many.iter().map(|o| format!(" '--{}'", o.0)).collect();
                        return Err(format!(
                            "option '--{body}' is ambiguous; possibilities:{list}"
                        ));
                    }
                }
            }
        };
        let (full, takes_arg, c) = found;
        match (takes_arg, value) {
            (false, Some(_)) => Err(format!("option '--{full}' doesn't allow an argument")),
            (false, None) => Ok((c, None)),
            (true, Some(v)) => Ok((c, Some(v))),
            (true, None) => match self.args.get(self.next) {
                Some(v) => {
                    self.next += 1;
                    Ok((c, Some(v.clone())))
                }
                None => Err(format!("option '--{full}' requires an argument")),
            },
        }
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Opt, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((idx, pos)) = self.cluster.take() {
            return Some(self.short(idx, pos));
        }
        loop {
            let arg = self.args.get(self.next)?;
            if arg == "--" {
                self.operands
                    .extend(self.args[self.next + 1..].iter().cloned());
                self.next = self.args.len();
                self.done = true;
                return None;
            }
            if !arg.starts_with('-') || arg == "-" {
                if self.posix {
                    return None;
                }
                self.operands.push(arg.clone());
                self.next += 1;
                continue;
            }
            let idx = self.next;
            self.next += 1;
            if let Some(body) = arg.strip_prefix("--") {
                let body = body.to_string();
                return Some(self.long(&body));
            }
            return Some(self.short(idx, 1));
        }
    }
}
