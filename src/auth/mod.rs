//! Credentials, kept apart from any one protocol: IMAP reads its password
//! here today, and POP3 and SMTP (and SASL mechanisms and OAuth2 tokens
//! after them) will share the same sources rather than each grow a copy.

pub mod sasl;
pub mod secrets;
