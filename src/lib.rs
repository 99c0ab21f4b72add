//! imapdir: keeps local Maildirs and IMAP accounts in step, both ways.
//!
//! The binary is a thin shell over this library; integration tests drive the
//! binary, unit tests the modules.

pub mod auth;
pub mod autoconfig;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod config_write;
pub mod connect;
pub mod diagnose;
pub mod exit_codes;
pub mod folders;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod imap;
pub mod import;
pub mod lock;
pub mod maildir;
pub mod model;
pub mod net;
pub mod pop3;
pub mod providers;
pub mod report;
pub mod smtp;
pub mod state;
pub mod sync;
