//! Reading OfflineIMAP's own per-folder status database, for importing an
//! account it synced; nothing of imapdir's schema is involved.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// The messages OfflineIMAP recorded for one folder in its status database
/// (`LocalStatus-sqlite/FOLDER` under its metadata directory): server UID
/// and the flags (Maildir letters) both sides had at its last run. The
/// file is only read, never locked or written.
pub fn offlineimap_status(path: &Path) -> rusqlite::Result<Vec<(u32, String)>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut stmt = conn.prepare("SELECT id, COALESCE(flags, '') FROM status")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (uid, flags) = row?;
        if let Ok(uid) = u32::try_from(uid) {
            if uid > 0 {
                out.push((uid, flags));
            }
        }
    }
    Ok(out)
}
