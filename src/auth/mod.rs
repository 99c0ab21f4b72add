//! Credentials, kept apart from any one protocol: IMAP reads its password
//! here, and POP3 and SMTP will share the same sources rather than each
//! grow a copy: password sources, SASL mechanisms, and OAuth2 (the
//! built-in login, its token store and refresh).

pub mod oauth2;
pub mod sasl;
pub mod secrets;
pub mod token_store;
