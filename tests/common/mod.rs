//! Integration-test harness for imapdir: a real Dovecot per test, an
//! independent IMAP client for server-side changes, Maildir helpers and a
//! runner for the real `imapdir` binary. Nothing is mocked.
//!
//! Every test file compiles this module on its own and uses only part of
//! it, hence the allow of dead code (it covers the submodules too). The
//! submodules are private and re-exported here, so tests reach everything
//! through `use common::*;`.
#![allow(dead_code)]

mod auth_server;
mod corpus;
mod dovecot;
mod flags;
mod imap_client;
mod maildir;
mod oauth2;
mod runner;
mod scenarios;
mod stopper;

pub mod fake_server;
pub mod http;
pub mod peer_configs;
pub mod peers;
pub mod proxy;
pub mod pty;
pub mod smtp_server;

// Allowed: a test file that uses nothing of one submodule must not warn.
#[allow(unused_imports)]
pub use {
    auth_server::*, corpus::*, dovecot::*, flags::*, imap_client::*, maildir::*, oauth2::*,
    runner::*, scenarios::*, stopper::*,
};
