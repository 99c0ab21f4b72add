//! Process exit codes, documented in the README; scripts rely on them.

/// How a run ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Every folder of every account synced.
    Success = 0,
    /// Some folders failed; the others were still synced.
    PartialFailure = 1,
    /// Bad command line or config.
    UsageError = 2,
    /// Could not connect, negotiate TLS or log in (an OAuth2 login that
    /// must be renewed with `imapdir auth` too).
    ConnectFailure = 3,
    /// Another run holds the account's lock.
    Locked = 4,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// The exit code for an error that ended a run or an account.
pub fn for_error(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if cause.is::<crate::lock::Locked>() {
            return ExitCode::Locked;
        }
        if cause.is::<crate::connect::ConnectError>()
            || cause.is::<crate::auth::oauth2::TokenError>()
            || cause.is::<crate::pop3::Pop3ConnectError>()
        {
            return ExitCode::ConnectFailure;
        }
        if cause.is::<crate::config::ConfigError>() || cause.is::<clap::Error>() {
            return ExitCode::UsageError;
        }
    }
    ExitCode::PartialFailure
}
