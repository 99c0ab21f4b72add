//! Session tests against scripted servers on loopback, plus parser robustness.

use super::fetch::FetchAttrs;
use super::response::{ignore_untagged, parse_response, parse_sanitised};
use super::*;
use crate::model::{ModSeq, TlsMode, Uid, UidValidity};
use imap_proto::Response;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

/// The one set a test names, checked as a caller's text would be.
fn set(text: &str) -> UidSet {
    let mut sets = UidSet::parse(text).unwrap();
    assert_eq!(sets.len(), 1);
    sets.remove(0)
}

/// One exchange: the client line must start with `expect` (after the tag);
/// `reply` is sent back with `TAG` replaced by the client's tag.
type Script = Vec<(&'static str, Vec<u8>)>;

/// Runs a fake server that greets and then follows `script`; returns the
/// options to reach it and a handle yielding every line the client sent.
fn serve(
    greeting: &'static str,
    script: Script,
) -> (ConnectOptions, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writer.write_all(greeting.as_bytes()).unwrap();
        let mut seen = Vec::new();
        let mut tag = String::new();
        for (expect, reply) in script {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_string();
            // An empty expectation is a continuation of the previous command.
            if !expect.is_empty() {
                let (t, rest) = line.split_once(' ').unwrap_or((&line, ""));
                assert!(
                    rest.starts_with(expect),
                    "expected {expect:?}, got {line:?}"
                );
                tag = t.to_string();
            }
            seen.push(line.clone());
            let reply = String::from_utf8_lossy(&reply)
                .replace("TAG", &tag)
                .into_bytes();
            writer.write_all(&reply).unwrap();
        }
        seen
    });
    let opts = ConnectOptions {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::Plain,
        ca_file: None,
        timeout: Duration::from_secs(5),
        trace: false,
        alerts: None,
    };
    (opts, handle)
}

const GREETING: &str = "* OK [CAPABILITY IMAP4rev1 UIDPLUS UNSELECT] ready\r\n";

#[test]
fn alert_during_select_and_unparseable_lines_keep_sync() {
    let (opts, server) = serve(
        GREETING,
        vec![(
            "SELECT",
            b"* NO [ALERT] disk almost full\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n* 17 FROB (\x01 garbage\r\n* OK [UIDNEXT 9] next\r\n* OK [WEIRDCODE 1 2] fine\r\nTAG OK [READ-WRITE] done\r\n".to_vec(),
        ), ("NOOP", b"TAG OK noop\r\n".to_vec())],
    );
    let mut s = Session::connect(&opts).unwrap();
    let info = s.select("INBOX").unwrap();
    assert_eq!(info.uidvalidity, UidValidity(77));
    assert_eq!(info.uidnext, Some(Uid(9)));
    assert_eq!(info.exists, 3);
    assert!(!info.read_only);
    assert_eq!(s.skipped_responses(), 1);
    assert_eq!(s.take_alerts(), vec!["disk almost full".to_string()]);
    s.noop().unwrap();
    drop(s);
    server.join().unwrap();
}

#[test]
fn alerts_in_the_greeting_tagged_and_untagged_responses_all_reach_the_shared_log() {
    let (mut opts, server) = serve(
        "* OK [ALERT] maintenance tonight\r\n",
        vec![
            (
                "CAPABILITY",
                b"* CAPABILITY IMAP4rev1\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "LOGIN",
                b"TAG NO [ALERT] log in on the web to confirm your account\r\n".to_vec(),
            ),
            (
                "LOGIN",
                b"* OK [ALERT] mailbox 95% full\r\nTAG OK in\r\n".to_vec(),
            ),
            (
                "CAPABILITY",
                b"* CAPABILITY IMAP4rev1\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let log = AlertLog::default();
    opts.alerts = Some(log.clone());
    let mut s = Session::connect(&opts).unwrap();
    assert!(matches!(s.login("u", "p"), Err(ImapError::Auth(_))));
    s.login("u", "p").unwrap();
    let expected = vec![
        "maintenance tonight".to_string(),
        "log in on the web to confirm your account".to_string(),
        "mailbox 95% full".to_string(),
    ];
    assert_eq!(s.take_alerts(), expected);
    assert_eq!(log.take(), expected);
    assert!(log.take().is_empty(), "taken once");
    drop(s);
    server.join().unwrap();
}

#[test]
fn bye_then_eof_reports_the_text() {
    let (opts, server) = serve(
        GREETING,
        vec![("NOOP", b"* BYE shutting down\r\n".to_vec())],
    );
    let mut s = Session::connect(&opts).unwrap();
    let err = s.noop().unwrap_err();
    assert!(
        matches!(&err, ImapError::Bye(Some(t)) if t == "shutting down"),
        "{err:?}"
    );
    assert!(err.is_connection_lost());
    server.join().unwrap();
}

#[test]
fn greeting_bye_is_an_error() {
    let (opts, server) = serve("* BYE too many connections\r\n", vec![]);
    let err = Session::connect(&opts).err().unwrap();
    assert!(matches!(err, ImapError::Bye(Some(ref t)) if t == "too many connections"));
    server.join().unwrap();
}

#[test]
fn login_uses_literals_and_reports_no() {
    let (opts, server) = serve(
        GREETING,
        vec![
            ("LOGIN \"bob\" {7}", b"+ go\r\n".to_vec()),
            (
                "",
                b"TAG NO [AUTHENTICATIONFAILED] bad credentials\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let err = s.login("bob", "pä\"ss!").unwrap_err();
    match err {
        ImapError::Auth(text) => {
            assert!(text.contains("bad credentials"));
            assert!(!text.contains("pä"));
        }
        other => panic!("{other:?}"),
    }
    let seen = server.join().unwrap();
    // The literal body arrives on the continuation line with the rest of the command.
    assert!(seen[1].contains("pä\"ss!"), "{seen:?}");
}

#[test]
fn trace_redacts_credentials() {
    let (mut opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1] hi\r\n",
        vec![
            ("LOGIN \"bob\" {9}", b"+ go\r\n".to_vec()),
            (
                "",
                b"TAG OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ok\r\n".to_vec(),
            ),
            ("APPEND \"INBOX\" () {5}", b"+ go\r\n".to_vec()),
            ("", b"TAG OK done\r\n".to_vec()),
        ],
    );
    opts.trace = true;
    let mut s = Session::connect(&opts).unwrap();
    s.login("bob", "s3cr\u{e9}t!!").unwrap();
    s.append("INBOX", Flags::empty(), None, &mut &b"hello"[..], 5)
        .unwrap();
    let traced = s.conn.traced().to_vec();
    drop(s);
    server.join().unwrap();
    let all = traced.join("\n");
    assert!(!all.contains("s3cr"), "{all}");
    assert!(!all.contains("hello"), "{all}");
    assert!(
        traced.contains(&"C: a1 LOGIN <redacted>".to_string()),
        "{all}"
    );
    assert!(traced.contains(&"C: <redacted>".to_string()), "{all}");
    assert!(all.contains("{5 bytes}"), "{all}");
}

#[test]
fn authenticate_trace_is_redacted() {
    let (mut opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
        vec![
            ("AUTHENTICATE PLAIN", b"+ \r\n".to_vec()),
            ("", b"TAG OK [CAPABILITY IMAP4rev1] ok\r\n".to_vec()),
        ],
    );
    opts.trace = true;
    let mut s = Session::connect(&opts).unwrap();
    s.login("bench", "bench").unwrap();
    let traced = s.conn.traced().to_vec();
    drop(s);
    server.join().unwrap();
    let all = traced.join("\n");
    assert!(!all.contains("AGJlbmNo"), "{all}");
    assert!(
        traced.contains(&"C: a1 AUTHENTICATE PLAIN <redacted>".to_string()),
        "{all}"
    );
    assert!(traced.contains(&"C: <redacted>".to_string()), "{all}");
}

#[test]
fn login_disabled_is_refused_before_sending_anything() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n",
        vec![],
    );
    let mut s = Session::connect(&opts).unwrap();
    assert!(matches!(s.login("a", "b"), Err(ImapError::LoginDisabled)));
    drop(s);
    server.join().unwrap();
}

#[test]
fn starttls_not_offered_is_an_error() {
    let (mut opts, server) = serve(GREETING, vec![]);
    opts.tls = TlsMode::StartTls;
    assert!(matches!(
        Session::connect(&opts),
        Err(ImapError::NoStartTls)
    ));
    server.join().unwrap();
}

#[test]
fn authenticate_plain_via_continuation() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
        vec![
            ("AUTHENTICATE PLAIN", b"+ \r\n".to_vec()),
            (
                "",
                b"TAG OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    s.login("bench", "bench").unwrap();
    assert!(s.has_capability("uidplus"));
    assert!(!s.has_capability("AUTH=PLAIN"));
    let seen = server.join().unwrap();
    assert_eq!(seen[1], "AGJlbmNoAGJlbmNo");
}

#[test]
fn fetch_bodies_stream_and_survive_sink_errors() {
    let fetch = b"* 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE 5 INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" BODY[] {5}\r\nhello)\r\n* 2 FETCH (FLAGS (\\Deleted))\r\n* 3 FETCH (UID 6 FLAGS () RFC822.SIZE 3 BODY[] {3}\r\nabc)\r\nTAG OK done\r\n";
    let (opts, server) = serve(
        GREETING,
        vec![
            (
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])",
                fetch.to_vec(),
            ),
            ("UID FETCH 1:*", fetch.to_vec()),
            ("UID FETCH 1:*", fetch.to_vec()),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let mut got = Vec::new();
    s.uid_fetch_bodies(
        &UidSet::all(),
        &mut |len| Ok(Vec::with_capacity(len as usize)),
        &mut |meta, body: Vec<u8>| {
            got.push((meta, body));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0.uid, Uid(5));
    assert_eq!(got[0].0.flags, Flags::SEEN);
    assert_eq!(got[0].0.body_len, 5);
    assert_eq!(
        got[0].0.internal_date.as_deref(),
        Some("01-Jan-2024 00:00:00 +0000")
    );
    assert_eq!(got[0].1, b"hello");
    assert_eq!(got[1].1, b"abc");

    // The first `done` fails: the error comes back and the session stays usable.
    let mut calls = 0;
    let err = s
        .uid_fetch_bodies(&UidSet::all(), &mut |_| Ok(Vec::new()), &mut |_,
                                                                         _: Vec<
            u8,
        >| {
            calls += 1;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("disk full"));
    assert_eq!(calls, 1);

    // `open_sink` fails: nothing is handed back and the session stays in step.
    let mut opened = 0;
    let err = s
        .uid_fetch_bodies(
            &UidSet::all(),
            &mut |_| -> io::Result<Vec<u8>> {
                opened += 1;
                Err(io::Error::other("no space"))
            },
            &mut |_, _| panic!("done called after open_sink failed"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("no space"));
    assert_eq!(opened, 1);
    s.noop().unwrap();
    drop(s);
    server.join().unwrap();
}

#[test]
fn fetch_meta_headers_search_and_append() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE LITERAL+] hi\r\n",
        vec![
            (
                "UID FETCH 1:3 (UID FLAGS RFC822.SIZE MODSEQ) (CHANGEDSINCE 5)",
                b"* 1 FETCH (UID 1 FLAGS (\\Seen $Forwarded \\Recent foo) RFC822.SIZE 10 MODSEQ (7))\r\n* 2 FETCH (FLAGS (\\Seen))\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                b"* 1 FETCH (UID 1 RFC822.SIZE 10 BODY[HEADER.FIELDS (MESSAGE-ID)] {23}\r\nMessage-ID:\r\n <x@y>\r\n\r\n)\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID SEARCH HEADER Message-ID \"<x@y>\"",
                b"* SEARCH 1 4\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "APPEND \"INBOX\" (\\Seen) \"01-Jan-2024 00:00:00 +0000\" {4+}",
                Vec::new(),
            ),
            ("", b"TAG OK [APPENDUID 99 12] appended\r\n".to_vec()),
            ("UID STORE 1:3 -FLAGS.SILENT (\\Seen)", b"TAG OK stored\r\n".to_vec()),
            ("UID STORE 2 +FLAGS.SILENT (\\Deleted)", b"TAG OK done\r\n".to_vec()),
            ("UID EXPUNGE 2", b"* VANISHED 2\r\nTAG OK gone\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let mut metas = Vec::new();
    s.uid_fetch_meta(&set("1:3"), Some(ModSeq(5)), &mut |m| metas.push(m))
        .unwrap();
    assert_eq!(
        metas,
        vec![RemoteMessage {
            uid: Uid(1),
            flags: Flags::SEEN.union(Flags::FORWARDED),
            size: Some(10),
            modseq: Some(ModSeq(7))
        }]
    );
    let mut headers = Vec::new();
    s.uid_fetch_headers(&set("1"), &mut |h| headers.push(h))
        .unwrap();
    assert_eq!(headers[0].message_id.as_deref(), Some("<x@y>"));
    assert_eq!(headers[0].size, 10);
    assert_eq!(
        s.uid_search_message_id("<x@y>").unwrap(),
        vec![Uid(1), Uid(4)]
    );
    let appended = s
        .append(
            "INBOX",
            Flags::SEEN,
            Some("01-Jan-2024 00:00:00 +0000"),
            &mut &b"abcd"[..],
            4,
        )
        .unwrap();
    assert_eq!(
        appended,
        Some(AppendUid {
            uidvalidity: UidValidity(99),
            uid: Uid(12)
        })
    );
    s.uid_store(&set("1:3"), false, Flags::SEEN).unwrap();
    s.uid_store(&set("1:3"), true, Flags::empty()).unwrap();
    assert_eq!(s.expunge_uids(&[Uid(2)]).unwrap(), Expunged::All);
    // Command text cannot pass for a UID set.
    assert!(matches!(
        UidSet::parse("1 FLAGS"),
        Err(ImapError::Protocol(_))
    ));
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen[4], "abcd");
}

#[test]
fn keywords_map_through_the_selected_folders_table() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 UIDPLUS LITERAL+] hi\r\n",
        vec![
            (
                "SELECT \"INBOX\"",
                b"* FLAGS (\\Seen $Junk $Label1)\r\n* OK [PERMANENTFLAGS (\\Seen $Junk $Label1 \\*)] ok\r\n* OK [UIDVALIDITY 7] ok\r\nTAG OK [READ-WRITE] selected\r\n".to_vec(),
            ),
            (
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE)",
                b"* 1 FETCH (UID 1 FLAGS (\\Seen $label1 \\Recent $NewOne) RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 FLAGS ($Junk))\r\nTAG OK done\r\n".to_vec(),
            ),
            ("UID STORE 1 +FLAGS.SILENT (\\Flagged $Junk $NewOne)", b"TAG OK stored\r\n".to_vec()),
            ("APPEND \"INBOX\" (\\Seen $Label1) {1+}", Vec::new()),
            ("", b"TAG OK appended\r\n".to_vec()),
            ("APPEND \"Other\" (\\Seen) {1+}", Vec::new()),
            ("", b"TAG OK appended\r\n".to_vec()),
            (
                "EXAMINE \"Other\"",
                b"* OK [PERMANENTFLAGS (\\Seen \\Deleted)] ok\r\n* OK [UIDVALIDITY 8] ok\r\nTAG OK [READ-ONLY] examined\r\n".to_vec(),
            ),
            (
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE)",
                b"* 1 FETCH (UID 1 FLAGS (\\Seen $Junk))\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    s.set_keywords(
        "INBOX",
        crate::model::Keywords::from_entries([
            (0, "$Junk".to_string()),
            (1, "$Label1".to_string()),
        ]),
    );
    let info = s.select("INBOX").unwrap();
    assert_eq!(
        info.permanent_flags.as_deref(),
        Some(
            &[
                "\\Seen".to_string(),
                "$Junk".into(),
                "$Label1".into(),
                "\\*".into()
            ][..]
        )
    );
    let mut metas = Vec::new();
    s.uid_fetch_meta(&UidSet::all(), None, &mut |m| metas.push(m))
        .unwrap();
    let (junk, label1, new_one) = (Flags::keyword(0), Flags::keyword(1), Flags::keyword(2));
    assert_eq!(metas[0].flags, Flags::SEEN.union(label1).union(new_one));
    assert_eq!(metas[1].flags, junk);
    // The new keyword got the next free slot, to be written out.
    let table = s.keywords("INBOX").unwrap();
    assert_eq!(table.additions().collect::<Vec<_>>(), vec![(2, "$NewOne")]);
    s.uid_store(&set("1"), true, Flags::FLAGGED.union(junk).union(new_one))
        .unwrap();
    s.append("INBOX", Flags::SEEN.union(label1), None, &mut &b"x"[..], 1)
        .unwrap();
    // Another folder without a table: only the standard flags.
    s.append("Other", Flags::SEEN.union(label1), None, &mut &b"x"[..], 1)
        .unwrap();
    s.examine("Other").unwrap();
    let mut metas = Vec::new();
    s.uid_fetch_meta(&UidSet::all(), None, &mut |m| metas.push(m))
        .unwrap();
    assert_eq!(metas[0].flags, Flags::SEEN);
    drop(s);
    server.join().unwrap();
}

#[test]
fn tagged_no_becomes_an_error_with_text() {
    let (opts, server) = serve(
        GREETING,
        vec![
            (
                "CREATE",
                b"TAG NO [ALREADYEXISTS] Mailbox already exists\r\n".to_vec(),
            ),
            (
                "SELECT",
                b"TAG NO [NONEXISTENT] no such mailbox\r\n".to_vec(),
            ),
            ("UNSELECT", b"TAG OK done\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    s.create("Existing").unwrap();
    let err = s.select("Missing").unwrap_err();
    assert!(
        matches!(&err, ImapError::No { command, text } if command == "SELECT" && text.contains("no such mailbox"))
    );
    assert!(!err.is_connection_lost());
    s.close().unwrap();
    drop(s);
    server.join().unwrap();
}

#[test]
fn read_timeout_becomes_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_millis(700));
        drop(s);
    });
    let opts = ConnectOptions {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::Plain,
        ca_file: None,
        timeout: Duration::from_millis(200),
        trace: false,
        alerts: None,
    };
    let err = Session::connect(&opts).err().unwrap();
    assert!(matches!(err, ImapError::Timeout(_)), "{err:?}");
    server.join().unwrap();
}

#[test]
fn connection_refused_is_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let opts = ConnectOptions {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::Plain,
        ca_file: None,
        timeout: Duration::from_secs(2),
        trace: false,
        alerts: None,
    };
    assert!(matches!(
        Session::connect(&opts),
        Err(ImapError::Connect(..))
    ));
}

#[test]
fn error_messages_read_well() {
    assert_eq!(
        ImapError::Bye(None).to_string(),
        "connection closed by server"
    );
    assert_eq!(
        ImapError::Bye(Some("bye".into())).to_string(),
        "connection closed by server: bye"
    );
}

mod robustness {
    use super::super::framing::{read_response, DiscardSink, FrameError};
    use super::*;
    use proptest::prelude::*;

    /// Frames and parses everything in `input`, as a session would.
    fn frame_and_parse(input: &[u8]) {
        let mut r = BufReader::with_capacity(16, input);
        loop {
            match read_response(&mut r, &mut DiscardSink, true) {
                Ok(frame) => {
                    // Unguarded, so a parser panic the sanitiser misses fails the test.
                    if let Some(Response::Fetch(_, attrs)) = parse_sanitised(&frame.data) {
                        let m = FetchAttrs::from(attrs.as_slice());
                        if let Some(h) = m.header {
                            let _ = extract_message_id(&h);
                        }
                    }
                }
                Err(FrameError::Eof) | Err(FrameError::Io(_)) => return,
            }
        }
    }

    const VALID: &[u8] = b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n* LIST (\\HasNoChildren) \"/\" {5}\r\nIN\"BX\r\n* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {5}\r\nhello INTERNALDATE \"01-Jan-2024 00:00:00 +0000\")\r\n* 2 FETCH (UID 6 BODY[HEADER.FIELDS (MESSAGE-ID)] {20}\r\nMessage-ID: <a@b>\r\n\r\n)\r\n* STATUS INBOX (MESSAGES 2 UIDNEXT 7)\r\n* SEARCH 1 2 3\r\na1 OK [APPENDUID 1 2] done\r\n";

    #[test]
    fn valid_sample_parses() {
        frame_and_parse(VALID);
    }

    #[test]
    fn inputs_that_crash_the_parser_are_skipped() {
        for input in [
            &b"* OK [UIDNEXT 5]\xc3\xa9t\xc3\xa9\r\n"[..],
            b"* 1 FETCH (UID 1 INTERNALDATE NIL)\r\n",
            b"* ID (\"name\" NIL)\r\n",
            b"+ [ALERT]\x80\r\n",
            b"a1 NO [ALERT]\xff\r\n",
        ] {
            let _ = parse_sanitised(input);
            let _ = parse_response(input);
        }
        assert!(matches!(
            parse_response(b"* OK [UIDNEXT 5]\xc3\xa9t\r\n"),
            Some(Response::Data { .. })
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
            frame_and_parse(&input);
        }

        #[test]
        fn truncated_and_mutated_responses_never_panic(cut in 0..VALID.len(), pos in 0..VALID.len(), byte in any::<u8>()) {
            frame_and_parse(&VALID[..cut]);
            let mut mutated = VALID.to_vec();
            mutated[pos] = byte;
            frame_and_parse(&mutated);
        }

        #[test]
        fn braces_and_quotes_never_panic(input in "[{}\"\\\\0-9+ *A-Z()\\[\\]\r\n]{0,300}") {
            frame_and_parse(input.as_bytes());
        }
    }
}

impl Session {
    /// NOOP: a command with nothing to it, to see what comes back.
    fn noop(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("NOOP")], &mut ignore_untagged())?;
        check(done, "NOOP").map(|_| ())
    }
}

mod extensions;
mod idle;

#[test]
fn search_keys_esearch_and_envelope_summaries() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 ESEARCH LITERAL+] hi\r\n",
        vec![
            (
                "UID SEARCH RETURN (ALL) CHARSET UTF-8 SUBJECT {7+}",
                Vec::new(),
            ),
            (
                "",
                b"* ESEARCH (tag \"TAG\") UID ALL 2:4,9\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID SEARCH RETURN (ALL) UNSEEN",
                b"* ESEARCH (tag \"TAG\") UID ALL 1:zz\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID SEARCH RETURN (ALL) FLAGGED",
                b"* ESEARCH (tag \"TAG\") UID\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID FETCH 2:4 (UID RFC822.SIZE INTERNALDATE ENVELOPE)",
                b"* 1 FETCH (UID 2 RFC822.SIZE 120 INTERNALDATE \"05-Mar-2024 14:07:09 +0000\" ENVELOPE (\"Tue, 5 Mar 2024 14:07:09 +0000\" \"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\" ((\"=?UTF-8?Q?Bj=C3=B6rn?=\" NIL \"bob\" \"example.org\")) NIL NIL NIL NIL NIL NIL \"<m@x>\"))\r\n* 2 FETCH (FLAGS (\\Seen))\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let keys = search_query::parse_query("subject:Grüße").unwrap();
    let hits = s.uid_search_keys(&keys).unwrap();
    assert_eq!(hits.count(), 4);
    assert_eq!(
        hits.uids().map(|u| u.0).collect::<Vec<_>>(),
        vec![2, 3, 4, 9]
    );
    // An answer that cannot be read is an error, never "nothing found".
    let unseen = search_query::parse_query("unread").unwrap();
    let e = s.uid_search_keys(&unseen).unwrap_err();
    assert!(e.to_string().contains("unreadable ESEARCH"), "{e}");
    let flagged = search_query::parse_query("flagged").unwrap();
    assert!(s.uid_search_keys(&flagged).unwrap().is_empty());
    let mut found = Vec::new();
    s.uid_fetch_summaries(&set("2:4"), &mut |m| found.push(m))
        .unwrap();
    assert_eq!(
        found,
        vec![MessageSummary {
            uid: Uid(2),
            size: Some(120),
            internal_date: Some("05-Mar-2024 14:07:09 +0000".into()),
            date: Some("Tue, 5 Mar 2024 14:07:09 +0000".into()),
            from_name: Some("Björn".into()),
            from_address: Some("bob@example.org".into()),
            subject: Some("Grüße".into()),
        }]
    );
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen[1], "Grüße");
}

#[test]
fn dovecots_x_guid_is_read_as_an_emailid_outside_strings_and_literals() {
    let line =
        b"* 4 FETCH (UID 4 FLAGS (\\Seen) RFC822.SIZE 701 X-GUID 1796.M98P1.vm,S=681,W=701)\r\n";
    match parse_response(line) {
        Some(imap_proto::Response::Fetch(_, attrs)) => assert!(attrs.iter().any(|a| matches!(
            a,
            imap_proto::AttributeValue::EmailId(id) if id == "1796.M98P1.vm,S=681,W=701"
        ))),
        other => panic!("{other:?}"),
    }
    // Inside a quoted string or a literal it is text, not an item.
    assert_eq!(
        super::response::x_guid_as_emailid(b"* 1 FETCH (UID 1 X-NOTE \"(X-GUID a\")\r\n"),
        None
    );
    assert_eq!(
        super::response::x_guid_as_emailid(b"* 1 FETCH (UID 1 BODY[HEADER] {9}\r\n X-GUID a)\r\n"),
        None
    );
}
