use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use super::*;
use crate::model::Uid;

fn flags(letters: &str) -> Flags {
    letters
        .chars()
        .filter_map(Flags::from_maildir_letter)
        .fold(Flags::empty(), Flags::union)
}

fn new_maildir() -> (tempfile::TempDir, Maildir) {
    let root = tempfile::tempdir().unwrap();
    let md = Maildir::new(root.path().join("INBOX"));
    md.create().unwrap();
    (root, md)
}

/// Writes `body` to a tmp file and delivers it.
fn add(md: &Maildir, base: &str, f: Flags, body: &str) -> LocalMessage {
    let (mut file, path) = md.create_tmp().unwrap();
    file.write_all(body.as_bytes()).unwrap();
    sync_file(&file).unwrap();
    md.deliver(&path, base, f).unwrap()
}

fn read(md: &Maildir, msg: &LocalMessage) -> String {
    let mut text = String::new();
    md.open(msg).unwrap().read_to_string(&mut text).unwrap();
    text
}

fn scan_sorted(md: &Maildir) -> Vec<LocalMessage> {
    let mut all = Vec::new();
    md.scan(&mut |m| all.push(m)).unwrap();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

fn names_in(md: &Maildir, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(md.path().join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn create_makes_nested_folders_and_is_idempotent() {
    let root = tempfile::tempdir().unwrap();
    let md = Maildir::new(root.path().join("a/b/c"));
    assert!(!md.exists());
    md.create().unwrap();
    assert!(md.exists());
    md.create().unwrap();
    assert_eq!(names_in(&md, "."), ["cur", "new", "tmp"]);

    // A file where the folder should be is an error, not a silent success.
    fs::write(root.path().join("file"), "x").unwrap();
    assert!(Maildir::new(root.path().join("file")).create().is_err());
    assert!(!Maildir::new(root.path().join("missing")).exists());
}

#[test]
fn deliver_puts_unflagged_mail_in_new_and_flagged_in_cur() {
    let (_root, md) = new_maildir();
    let a = add(&md, "a,U=1", Flags::empty(), "one");
    assert_eq!(
        (a.subdir, a.name.as_str(), a.uid_hint),
        (Subdir::New, "a,U=1", Some(Uid(1)))
    );
    let b = add(&md, "b,U=2", flags("SF"), "two");
    assert_eq!((b.subdir, b.name.as_str()), (Subdir::Cur, "b,U=2:2,FS"));
    assert_eq!(b.flags, flags("FS"));
    assert_eq!(names_in(&md, "new"), ["a,U=1"]);
    assert_eq!(names_in(&md, "cur"), ["b,U=2:2,FS"]);
    assert!(names_in(&md, "tmp").is_empty());
    assert_eq!(read(&md, &a), "one");
    assert_eq!(md.file_path(&b), md.path().join("cur/b,U=2:2,FS"));
}

#[test]
fn deliver_never_overwrites() {
    let (_root, md) = new_maildir();
    let first = add(&md, "x,U=1", flags("S"), "first");
    let (mut file, tmp) = md.create_tmp().unwrap();
    file.write_all(b"second").unwrap();
    let err = md.deliver(&tmp, "x,U=1", flags("S")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(read(&md, &first), "first");
    // The new message is still in tmp/, nothing lost.
    assert_eq!(fs::read_to_string(&tmp).unwrap(), "second");
}

#[test]
fn deliver_rejects_unsafe_bases() {
    let (_root, md) = new_maildir();
    for base in ["", ".hidden", "../x", "a/b", "a:2,S"] {
        let (_file, tmp) = md.create_tmp().unwrap();
        let err = md.deliver(&tmp, base, Flags::empty()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{base:?}");
    }
}

#[test]
fn create_tmp_makes_distinct_new_files() {
    let (_root, md) = new_maildir();
    let (_a, pa) = md.create_tmp().unwrap();
    let (_b, pb) = md.create_tmp().unwrap();
    assert_ne!(pa, pb);
    assert_eq!(pa.parent().unwrap(), md.path().join("tmp"));
    assert_eq!(names_in(&md, "tmp").len(), 2);
}

#[test]
fn scan_lists_messages_and_skips_the_rest() {
    let (_root, md) = new_maildir();
    add(&md, "a,U=1", Flags::empty(), "");
    add(&md, "b,U=2", flags("RS"), "");
    fs::write(md.path().join("cur/c,U=3,FMD5=ff:2,Sa"), "").unwrap();
    fs::write(md.path().join("cur/d.local"), "").unwrap();
    fs::write(md.path().join("new/e:2,F"), "").unwrap();
    fs::write(md.path().join("cur/.hidden:2,S"), "").unwrap();
    fs::create_dir(md.path().join("cur/subdir")).unwrap();
    fs::write(md.path().join("tmp/inflight"), "").unwrap();

    let all = scan_sorted(&md);
    let summary: Vec<(Subdir, &str, &str, Option<Uid>, Flags)> = all
        .iter()
        .map(|m| {
            (
                m.subdir,
                m.name.as_str(),
                m.base.as_str(),
                m.uid_hint,
                m.flags,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Subdir::New, "a,U=1", "a,U=1", Some(Uid(1)), Flags::empty()),
            (
                Subdir::Cur,
                "b,U=2:2,RS",
                "b,U=2",
                Some(Uid(2)),
                flags("RS")
            ),
            (
                Subdir::Cur,
                "c,U=3,FMD5=ff:2,Sa",
                "c,U=3,FMD5=ff",
                Some(Uid(3)),
                flags("Sa")
            ),
            (Subdir::Cur, "d.local", "d.local", None, Flags::empty()),
            (Subdir::New, "e:2,F", "e", None, flags("F")),
        ]
    );
}

#[test]
fn scan_returns_the_stamp_from_before_listing() {
    let (_root, md) = new_maildir();
    let before = md.stamp().unwrap();
    assert_eq!(md.scan(&mut |_| {}).unwrap(), before);
    std::thread::sleep(Duration::from_millis(20));
    add(&md, "a", flags("S"), "");
    let after = md.stamp().unwrap();
    assert_ne!(after.cur_mtime_ns, before.cur_mtime_ns);
    assert_eq!(after.new_mtime_ns, before.new_mtime_ns);

    // A file arriving during the scan shows in the next stamp, not this one.
    let mut seen = 0;
    let stamp = md
        .scan(&mut |_| {
            seen += 1;
            if seen == 1 {
                std::thread::sleep(Duration::from_millis(20));
                fs::write(md.path().join("new/late"), "").unwrap();
            }
        })
        .unwrap();
    assert_eq!(stamp, after);
    assert_ne!(md.stamp().unwrap(), stamp);
}

#[test]
fn set_flags_moves_between_new_and_cur_and_keeps_unknown_letters() {
    let (_root, md) = new_maildir();
    let msg = add(&md, "m,U=5", Flags::empty(), "body");

    let seen = md.set_flags(&msg, flags("S")).unwrap();
    assert_eq!(
        (seen.subdir, seen.name.as_str()),
        (Subdir::Cur, "m,U=5:2,S")
    );
    assert!(names_in(&md, "new").is_empty());

    // Clearing every flag keeps it in cur/, with an empty info part.
    let unseen = md.set_flags(&seen, Flags::empty()).unwrap();
    assert_eq!(
        (unseen.subdir, unseen.name.as_str()),
        (Subdir::Cur, "m,U=5:2,")
    );

    // Keyword letters the caller leaves out of its view (no name in
    // dovecot-keywords) survive, known letters are replaced, output sorted.
    fs::rename(md.file_path(&unseen), md.path().join("cur/m,U=5:2,Sba")).unwrap();
    let mut listed = scan_sorted(&md).remove(0);
    assert_eq!(listed.flags, flags("Sab"));
    listed.flags = listed.flags.intersection(Flags::STANDARD);
    let changed = md.set_flags(&listed, flags("FR")).unwrap();
    assert_eq!(changed.name, "m,U=5:2,FRab");
    assert_eq!(changed.flags, flags("FRab"));

    // A keyword the caller does see is set and cleared like a flag.
    let more = md.set_flags(&changed, flags("FRabc")).unwrap();
    assert_eq!(more.name, "m,U=5:2,FRabc");
    let fewer = md.set_flags(&more, flags("FRbc")).unwrap();
    assert_eq!(fewer.name, "m,U=5:2,FRbc");
    let changed = md.set_flags(&fewer, flags("FRab")).unwrap();
    assert_eq!(read(&md, &changed), "body");

    // No change: no rename.
    assert_eq!(md.set_flags(&changed, flags("RFab")).unwrap(), changed);
}

#[test]
fn set_flags_follows_a_file_renamed_meanwhile() {
    let (_root, md) = new_maildir();
    let msg = add(&md, "m,U=7", Flags::empty(), "body");
    // A mail reader moves it to cur/ and marks it seen.
    fs::rename(md.file_path(&msg), md.path().join("cur/m,U=7:2,S")).unwrap();

    let flagged = md.set_flags(&msg, flags("F")).unwrap();
    // Our change (add F) and the reader's (add S) both survive.
    assert_eq!(
        (flagged.subdir, flagged.name.as_str()),
        (Subdir::Cur, "m,U=7:2,FS")
    );
    assert_eq!(names_in(&md, "cur"), ["m,U=7:2,FS"]);
    assert!(names_in(&md, "new").is_empty());

    // Removing a flag we knew about from a renamed file keeps the others.
    fs::rename(md.file_path(&flagged), md.path().join("cur/m,U=7:2,FRSx")).unwrap();
    let unflagged = md.set_flags(&flagged, flags("S")).unwrap();
    assert_eq!(unflagged.name, "m,U=7:2,RSx");
}

#[test]
fn set_flags_reports_a_message_gone_and_never_overwrites() {
    let (_root, md) = new_maildir();
    let msg = add(&md, "m", flags("S"), "");
    fs::remove_file(md.file_path(&msg)).unwrap();
    assert_eq!(
        md.set_flags(&msg, flags("F")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(md.open(&msg).unwrap_err().kind(), io::ErrorKind::NotFound);

    // Two copies with one base: renaming one onto the other's name fails.
    let a = add(&md, "dup", flags("S"), "a");
    let b = add(&md, "dup", flags("F"), "b");
    assert_eq!(
        md.set_flags(&a, flags("F")).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(read(&md, &a), "a");
    assert_eq!(read(&md, &b), "b");
}

#[test]
fn rename_base_keeps_subdir_and_info() {
    let (_root, md) = new_maildir();
    fs::write(md.path().join("cur/local.host:2,Sa"), "x").unwrap();
    let msg = scan_sorted(&md).remove(0);
    let renamed = md
        .rename_base(&msg, &base_with_uid(&msg.base, Uid(42)))
        .unwrap();
    assert_eq!(
        (renamed.subdir, renamed.name.as_str(), renamed.uid_hint),
        (Subdir::Cur, "local.host,U=42:2,Sa", Some(Uid(42)))
    );

    let fresh = add(&md, "n", Flags::empty(), "y");
    let renamed = md.rename_base(&fresh, "n,U=43").unwrap();
    assert_eq!(
        (renamed.subdir, renamed.name.as_str()),
        (Subdir::New, "n,U=43")
    );

    // Followed after a concurrent flag change.
    fs::rename(md.file_path(&renamed), md.path().join("cur/n,U=43:2,S")).unwrap();
    let again = md.rename_base(&renamed, "n,U=44").unwrap();
    assert_eq!(
        (again.subdir, again.name.as_str()),
        (Subdir::Cur, "n,U=44:2,S")
    );
    assert!(md.rename_base(&again, "bad/base").is_err());
}

#[test]
fn remove_is_idempotent_and_exact() {
    let (_root, md) = new_maildir();
    let a = add(&md, "dup", flags("S"), "a");
    let b = add(&md, "dup", flags("F"), "b");
    md.remove(&a).unwrap();
    md.remove(&a).unwrap();
    // The other copy with the same base is untouched.
    assert_eq!(read(&md, &b), "b");
    assert_eq!(names_in(&md, "cur"), ["dup:2,F"]);
    md.sync_dirs().unwrap();
}

#[test]
fn open_follows_a_file_renamed_meanwhile() {
    let (_root, md) = new_maildir();
    let msg = add(&md, "o,U=1", Flags::empty(), "content");
    fs::rename(md.file_path(&msg), md.path().join("cur/o,U=1:2,ST")).unwrap();
    assert_eq!(read(&md, &msg), "content");
}

#[test]
fn clean_tmp_removes_only_old_leftovers() {
    let (_root, md) = new_maildir();
    let (old, _) = md.create_tmp().unwrap();
    md.create_tmp().unwrap();
    fs::create_dir(md.path().join("tmp/somedir")).unwrap();
    // An old mtime alone is not enough: a writer may set it on purpose, and
    // that bumps the ctime.
    old.set_modified(SystemTime::now() - Duration::from_secs(40 * 3600))
        .unwrap();
    assert_eq!(md.clean_tmp().unwrap(), 0);
    assert_eq!(names_in(&md, "tmp").len(), 3);

    assert_eq!(md.clean_tmp_older_than(Duration::ZERO).unwrap(), 2);
    assert_eq!(names_in(&md, "tmp"), ["somedir"]);
}

#[test]
fn messages_round_trip_through_lf_files() {
    let (_root, md) = new_maildir();
    let wire = b"Message-ID: <m@x>\r\nSubject: hi\r\n\r\nline\r\nbare\rcr\r\n";
    let (file, tmp) = md.create_tmp().unwrap();
    let mut writer = LfWriter::new(file);
    for chunk in wire.chunks(5) {
        writer.write_all(chunk).unwrap();
    }
    let size = writer.bytes_written();
    let file = writer.into_inner().unwrap();
    sync_file(&file).unwrap();
    let msg = md
        .deliver(&tmp, &new_base(Some(Uid(9))), flags("S"))
        .unwrap();
    md.sync_dirs().unwrap();

    assert_eq!(fs::metadata(md.file_path(&msg)).unwrap().len(), size);
    assert_eq!(
        crlf_size(&mut md.open(&msg).unwrap()).unwrap(),
        wire.len() as u64
    );
    assert_eq!(
        read_message_id(&mut md.open(&msg).unwrap())
            .unwrap()
            .as_deref(),
        Some("<m@x>")
    );
    let mut back = Vec::new();
    CrlfReader::new(md.open(&msg).unwrap())
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, wire);
    assert!(mtime_secs(&md.open(&msg).unwrap()).unwrap() > 0);
}

#[test]
fn rename_noreplace_refuses_existing_targets() {
    check_noreplace(rename_noreplace);
    check_noreplace(link_noreplace);
}

fn check_noreplace(rename_noreplace: fn(&Path, &Path) -> io::Result<()>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::write(&a, "a").unwrap();
    fs::write(&b, "b").unwrap();
    assert_eq!(
        rename_noreplace(&a, &b).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(fs::read_to_string(&b).unwrap(), "b");
    fs::remove_file(&b).unwrap();
    rename_noreplace(&a, &b).unwrap();
    assert!(!a.exists());
    assert_eq!(
        rename_noreplace(&a, &dir.path().join("c"))
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );
    sync_dir(dir.path()).unwrap();
}

#[test]
fn sync_dirs_covers_exactly_the_directories_changed() {
    let (_dir, md) = new_maildir();
    let pending = |md: &Maildir| md.unsynced.get();
    let unread = add(&md, "a", Flags::empty(), "x");
    assert_eq!(
        pending(&md),
        Unsynced {
            cur: false,
            new: true
        }
    );
    md.sync_dirs().unwrap();
    assert_eq!(pending(&md), Unsynced::default());

    // Seen: new/ -> cur/ touches both.
    let seen = md.set_flags(&unread, Flags::SEEN).unwrap();
    assert_eq!(
        pending(&md),
        Unsynced {
            cur: true,
            new: true
        }
    );
    md.sync_dirs().unwrap();

    // A flag change within cur/ and a deletion there touch cur/ only.
    let flagged = md.set_flags(&seen, flags("FS")).unwrap();
    md.remove(&flagged).unwrap();
    assert_eq!(
        pending(&md),
        Unsynced {
            cur: true,
            new: false
        }
    );
    md.sync_dirs().unwrap();
    assert_eq!(pending(&md), Unsynced::default());
}

/// Long enough for any local file system's timestamp tick to pass.
const TICKS: Duration = Duration::from_millis(60);

#[test]
fn find_recorded_finds_files_as_imapdir_names_them() {
    let (_root, md) = new_maildir();
    let unseen = add(&md, "u1,U=1", Flags::empty(), "a");
    let seen = add(&md, "u2,U=2", flags("FS"), "b");
    assert_eq!(
        md.find_recorded("u1,U=1", Flags::empty()).unwrap(),
        Some(unseen.clone())
    );
    assert_eq!(
        md.find_recorded("u2,U=2", flags("SF")).unwrap(),
        Some(seen.clone())
    );
    // A mail reader moved the unseen one to cur/ with an empty info part.
    fs::rename(md.file_path(&unseen), md.path().join("cur/u1,U=1:2,")).unwrap();
    let moved = md.find_recorded("u1,U=1", Flags::empty()).unwrap().unwrap();
    assert_eq!(
        (moved.subdir, moved.name.as_str()),
        (Subdir::Cur, "u1,U=1:2,")
    );
    // Flags other than the recorded ones, or letters imapdir does not sync:
    // not found, so the caller lists the folder instead.
    assert_eq!(md.find_recorded("u2,U=2", flags("S")).unwrap(), None);
    fs::rename(md.file_path(&seen), md.path().join("cur/u2,U=2:2,FSa")).unwrap();
    assert_eq!(md.find_recorded("u2,U=2", flags("FS")).unwrap(), None);
    assert_eq!(md.find_recorded("nothing", Flags::empty()).unwrap(), None);
}

#[test]
fn own_changes_alone_leave_a_trusted_stamp() {
    let (_root, md) = new_maildir();
    let kept = add(&md, "k,U=1", flags("S"), "kept");
    let gone = add(&md, "g,U=2", Flags::empty(), "gone");
    let Some(mut witness) = DirWitness::start(&md) else {
        eprintln!("no inotify here; nothing to test");
        return;
    };
    add(&md, "n,U=3", Flags::empty(), "new");
    md.set_flags(&kept, flags("FS")).unwrap();
    md.remove(&gone).unwrap();
    md.sync_dirs().unwrap();
    witness.writes_done(&md);
    std::thread::sleep(TICKS);
    assert_eq!(witness.trusted(&md), Some(md.stamp().unwrap()));
}

#[test]
fn anyone_elses_change_is_never_trusted() {
    type Foreign = fn(&Maildir, &LocalMessage);
    let changes: [(&str, Foreign); 4] = [
        ("a delivery", |md, _| {
            fs::write(md.path().join("new/delivered"), "x").unwrap()
        }),
        ("a rename", |md, m| {
            fs::rename(md.file_path(m), md.path().join("cur/m,U=1:2,RS")).unwrap()
        }),
        ("a deletion", |md, m| {
            fs::remove_file(md.file_path(m)).unwrap()
        }),
        ("a new directory entry in cur/", |md, _| {
            fs::write(md.path().join("cur/other:2,S"), "x").unwrap()
        }),
    ];
    for (what, change) in changes {
        for after_writes in [false, true] {
            let (_root, md) = new_maildir();
            let m = add(&md, "m,U=1", flags("S"), "m");
            let Some(mut witness) = DirWitness::start(&md) else {
                return;
            };
            add(&md, "own,U=2", flags("S"), "own");
            if !after_writes {
                change(&md, &m);
            }
            witness.writes_done(&md);
            if after_writes {
                change(&md, &m);
            }
            std::thread::sleep(TICKS);
            assert_eq!(
                witness.trusted(&md),
                None,
                "{what}, after writes: {after_writes}"
            );
        }
    }
}

#[test]
fn a_stamp_too_fresh_is_not_trusted_yet() {
    let (_root, md) = new_maildir();
    let Some(mut witness) = DirWitness::start(&md) else {
        return;
    };
    add(&md, "own,U=2", flags("S"), "own");
    witness.writes_done(&md);
    // Read at once: the mtime is younger than any tick.
    let first = witness.trusted(&md);
    std::thread::sleep(TICKS);
    let later = witness.trusted(&md);
    assert_eq!(later, Some(md.stamp().unwrap()));
    assert!(first.is_none() || first == later);
}
