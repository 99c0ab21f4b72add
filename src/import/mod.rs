//! What other sync tools left behind: their records of which local file is
//! which server message, read so a Maildir they wrote is adopted without
//! copying anything twice.

pub mod peer_records;
