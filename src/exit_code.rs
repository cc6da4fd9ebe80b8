//! pushy's exit statuses: one enum, documented in the man page.

use pushy::ErrorKind;

/// What a pushy run ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything worked (and for `--test`, the value was truthy).
    Success,
    /// The remote code raised (or, with `--test`, the value was falsy).
    Raised,
    /// The command line was wrong.
    Usage,
    /// The remote code called `sys.exit(n)`.
    Exit(u8),
    /// `--timeout` expired.
    Timeout,
    /// Ctrl-C.
    Interrupted,
    /// Connection, ssh or protocol failure (ssh's own 255).
    Connection,
}

impl ExitCode {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Raised => 1,
            ExitCode::Usage => 2,
            ExitCode::Exit(n) => n,
            ExitCode::Timeout => 124,
            ExitCode::Interrupted => 130,
            ExitCode::Connection => 255,
        }
    }

    /// The status for a library error of this kind.
    pub fn for_error(kind: ErrorKind) -> ExitCode {
        match kind {
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::Remote => ExitCode::Raised,
            ErrorKind::Io | ErrorKind::Value => ExitCode::Raised,
            ErrorKind::Timeout => ExitCode::Timeout,
            ErrorKind::Connection | ErrorKind::NoPython | ErrorKind::Protocol | ErrorKind::Disconnected => {
                ExitCode::Connection
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ExitCode::for_error(ErrorKind::Usage).code(), 2);
        assert_eq!(ExitCode::for_error(ErrorKind::Connection).code(), 255);
        assert_eq!(ExitCode::for_error(ErrorKind::NoPython).code(), 255);
        assert_eq!(ExitCode::for_error(ErrorKind::Remote).code(), 1);
        assert_eq!(ExitCode::Interrupted.code(), 130);
        assert_eq!(ExitCode::Exit(3).code(), 3);
    }
}
