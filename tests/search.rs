//! `imapdir search`: SEARCH on a real Dovecot, by header, body, date and
//! size, with non-ASCII words, across folders and `--folder` patterns;
//! whether each match is in the Maildir; the `--json` document; raw
//! `--imap` keys and a key the server refuses; and nothing downloaded.

mod common;

use common::*;
use serde_json::Value;

/// A UTF-8 message; `subject` is written as given (encode it first).
fn mail(from: &str, subject: &str, body: &str, id: &str) -> String {
    format!(
        "From: {from}\r\n\
         To: Bench User <bench@localhost>\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\
         Message-ID: <{id}@search.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}\r\n"
    )
}

/// APPENDs `message` with an INTERNALDATE (LITERAL+: one line to send).
fn append_dated(client: &mut ImapClient, folder: &str, date: &str, message: &str) -> u32 {
    let (_, tagged) = client.command(&format!(
        "APPEND \"{folder}\" () \"{date}\" {{{}+}}\r\n{message}",
        message.len()
    ));
    let text = String::from_utf8_lossy(&tagged).to_string();
    let rest = text.split("[APPENDUID ").nth(1).expect("APPENDUID");
    rest.split(']')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Three messages in INBOX: Alice's budget (2024, small), Bob's German
/// greeting about a bank transfer (2023), Carol's big photos (2024).
fn seeded() -> (Dovecot, ImapClient, Imapdir, [u32; 3]) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let alice = append_dated(
        &mut client,
        "INBOX",
        "10-Mar-2024 09:00:00 +0000",
        &mail(
            "Alice Example <alice@example.org>",
            "Budget 2024",
            "Please pay the invoice by Friday.",
            "a",
        ),
    );
    let bob = append_dated(
        &mut client,
        "INBOX",
        "01-Jun-2023 12:00:00 +0000",
        &mail(
            "=?UTF-8?Q?Bj=C3=B6rn_Bob?= <bob@example.org>",
            "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=",
            "Die Überweisung ist angekommen.",
            "b",
        ),
    );
    let big = "holiday photos attached\r\n".repeat(12_000);
    let carol = append_dated(
        &mut client,
        "INBOX",
        "01-May-2024 08:30:00 +0000",
        &mail("carol@example.org", "Holiday", &big, "c"),
    );
    let imapdir = Imapdir::new(&dovecot);
    (dovecot, client, imapdir, [alice, bob, carol])
}

/// The UIDs of the tab-separated result lines of a successful search.
fn uids(imapdir: &Imapdir, args: &[&str]) -> Vec<u32> {
    let mut full = vec!["search", "test"];
    full.extend_from_slice(args);
    let run = imapdir.run(&full);
    run.expect_success();
    let mut found: Vec<u32> = run
        .stdout
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 7, "{l}");
            cols[1].parse().unwrap()
        })
        .collect();
    found.sort();
    found
}

fn parse(result: &RunResult) -> Value {
    serde_json::from_str(&result.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", result.stdout, result.stderr))
}

#[test]
fn finds_by_header_body_date_and_size_with_non_ascii_words() {
    let (_dovecot, _client, imapdir, [alice, bob, carol]) = seeded();

    assert_eq!(uids(&imapdir, &["from:alice"]), vec![alice]);
    assert_eq!(uids(&imapdir, &["subject:budget"]), vec![alice]);
    assert_eq!(uids(&imapdir, &["body:invoice"]), vec![alice]);
    assert_eq!(uids(&imapdir, &["invoice"]), vec![alice]);
    assert_eq!(uids(&imapdir, &["subject:Grüße"]), vec![bob]);
    assert_eq!(uids(&imapdir, &["body:Überweisung"]), vec![bob]);
    assert_eq!(uids(&imapdir, &["from:Björn"]), vec![bob]);
    assert_eq!(uids(&imapdir, &["since:2024-01-01"]), vec![alice, carol]);
    assert_eq!(uids(&imapdir, &["before:2024-01-01"]), vec![bob]);
    assert_eq!(uids(&imapdir, &["on:2024-05-01"]), vec![carol]);
    assert_eq!(uids(&imapdir, &["larger:100k"]), vec![carol]);
    assert_eq!(uids(&imapdir, &["smaller:100k"]), vec![alice, bob]);
    assert_eq!(
        uids(&imapdir, &["from:alice or subject:grüße"]),
        vec![alice, bob]
    );
    assert_eq!(
        uids(&imapdir, &["--", "-from:alice", "unread"]),
        vec![bob, carol]
    );
    assert_eq!(
        uids(&imapdir, &["subject:Holiday", "larger:1M"]),
        Vec::<u32>::new()
    );
    // The shell's quotes are kept: one term, not two.
    assert_eq!(uids(&imapdir, &["subject:aus Berlin", "unread"]), vec![bob]);

    // The line for a match: folder, UID, date, from, size, local, subject.
    let run = imapdir.run(&["--trace-imap", "search", "test", "subject:Grüße"]);
    run.expect_success();
    let cols: Vec<&str> = run.stdout.trim_end().split('\t').collect();
    assert_eq!(cols[0], "INBOX");
    assert_eq!(cols[1], bob.to_string());
    assert_eq!(cols[2], "2023-06-01T12:00:00+00:00");
    assert_eq!(cols[3], "Björn Bob <bob@example.org>");
    assert!(cols[4].parse::<u32>().unwrap() > 100, "{}", cols[4]);
    assert_eq!(cols[5], "no");
    assert_eq!(cols[6], "Grüße aus Berlin");
    // A UTF-8 search with the word as a literal (LITERAL+), as ESEARCH;
    // nothing but the envelope fetched.
    let sent: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .collect();
    assert!(
        sent.iter()
            .any(|l| l.contains("UID SEARCH RETURN (ALL) CHARSET UTF-8 SUBJECT {7+}")),
        "{}",
        run.stderr
    );
    assert!(
        sent.iter()
            .any(|l| l.contains("UID FETCH") && l.contains("ENVELOPE")),
        "{}",
        run.stderr
    );
    assert!(
        !sent.iter().any(|l| l.contains("BODY[")
            || l.contains("BODY.PEEK[")
            || l.contains("RFC822 ")
            || l.contains("RFC822)")),
        "{}",
        run.stderr
    );
    // The ESEARCH answer was read (imap-proto does not parse it).
    assert!(run.stderr.contains("* ESEARCH (TAG"), "{}", run.stderr);
    assert!(!run.stderr.contains("skipped unreadable"), "{}", run.stderr);
    // EXAMINE only: the search changes nothing (Bob's stays unread).
    assert!(sent.iter().any(|l| l.contains("EXAMINE")), "{}", run.stderr);
    assert!(
        !sent.iter().any(|l| l.contains(" SELECT ")),
        "{}",
        run.stderr
    );
    assert_eq!(uids(&imapdir, &["unread"]), vec![alice, bob, carol]);

    // --limit stops early.
    let run = imapdir.run(&["search", "test", "--limit", "2", "unread"]);
    run.expect_success();
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
}

#[test]
fn bad_words_are_usage_errors_naming_the_word() {
    let dovecot = Dovecot::start();
    let imapdir = Imapdir::new(&dovecot);
    for (query, word) in [
        ("colour:red", "colour:red"),
        ("since:2024-02-30", "since:2024-02-30"),
        ("larger:12Q", "larger:12Q"),
        ("subject:\"open", "subject:\"open"),
    ] {
        let run = imapdir.run(&["--trace-imap", "search", "test", query]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("{word:?}")), "{}", run.stderr);
        // Refused before connecting.
        assert!(!run.stderr.contains("C: "), "{}", run.stderr);
    }
    let run = imapdir.run(&["--json", "search", "test", "larger:12Q"]);
    run.expect_code(2);
    let doc = parse(&run);
    assert_eq!(doc["command"], "search");
    assert_eq!(doc["exit_code"], 2);
    assert!(doc["error"].as_str().unwrap().contains("larger:12Q"));
}

#[test]
fn across_folders_with_patterns_and_the_local_column() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    for folder in ["Work", "Work/Old", "Lists", "Lists/Rust"] {
        client.create(folder);
    }
    let mut seeded = Vec::new();
    for (i, folder) in ["INBOX", "Work", "Work/Old", "Lists/Rust"]
        .iter()
        .enumerate()
    {
        let id = format!("r{i}");
        let uid = client.append(
            folder,
            "\\Seen",
            mail("dave@example.org", "Quarterly report", "numbers", &id).as_bytes(),
        );
        seeded.push((folder.to_string(), uid));
        client.append(
            folder,
            "",
            mail("eve@example.org", "Lunch", "pizza", &format!("l{i}")).as_bytes(),
        );
    }
    let mut imapdir = Imapdir::new(&dovecot);
    // The account does not sync the mailing lists: search leaves them out too.
    imapdir
        .account
        .extra
        .push(r#"folders = ["*", "!Lists*"]"#.into());
    imapdir.sync_ok();
    // Added on the server after the sync: not in the Maildir.
    let late = client.append(
        "Work",
        "",
        mail(
            "dave@example.org",
            "Quarterly report, revised",
            "more",
            "late",
        )
        .as_bytes(),
    );

    let run = imapdir.run(&["search", "test", "subject:report"]);
    run.expect_success();
    let rows: Vec<Vec<String>> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let found: Vec<(String, u32, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap(), r[5].clone()))
        .collect();
    let mut expected: Vec<(String, u32, String)> = seeded
        .iter()
        .filter(|(f, _)| !f.starts_with("Lists"))
        .map(|(f, u)| (f.clone(), *u, "yes".to_string()))
        .collect();
    expected.push(("Work".into(), late, "no".into()));
    let mut sorted = found.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{}", run.stdout);

    // --folder narrows with the folders key's patterns.
    let in_folders = |patterns: &[&str]| -> Vec<String> {
        let mut args = vec!["search", "test"];
        for p in patterns {
            args.push("--folder");
            args.push(p);
        }
        args.push("subject:report");
        let run = imapdir.run(&args);
        run.expect_success();
        let mut folders: Vec<String> = run
            .stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect();
        folders.dedup();
        folders
    };
    assert_eq!(in_folders(&["Work*"]), vec!["Work", "Work/Old"]);
    assert_eq!(in_folders(&["Work/%"]), vec!["Work/Old".to_string()]);
    assert_eq!(in_folders(&["*", "!Work*"]), vec!["INBOX".to_string()]);
    // The account's own exclusion still applies.
    let run = imapdir.run(&["search", "test", "--folder", "Lists*", "subject:report"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--folder"), "{}", run.stderr);

    // The --json document.
    let run = imapdir.run(&["--json", "search", "test", "subject:report"]);
    run.expect_success();
    let doc = parse(&run);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "search");
    assert_eq!(doc["account"], "test");
    assert_eq!(doc["keys"], "SUBJECT \"report\"");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["limited"], false);
    assert!(doc["error"].is_null());
    let matches = doc["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 4);
    let revised = matches
        .iter()
        .find(|m| m["folder"] == "Work" && m["uid"] == late)
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(revised["local"], false);
    assert_eq!(revised["subject"], "Quarterly report, revised");
    assert_eq!(revised["from"], "dave@example.org");
    assert_eq!(revised["from_address"], "dave@example.org");
    assert_eq!(revised["sent"], "Mon, 01 Jan 2024 10:00:00 +0000");
    assert!(revised["date"].as_str().unwrap().contains('T'));
    assert!(revised["size"].as_u64().unwrap() > 100);
    assert!(matches
        .iter()
        .filter(|m| m["uid"] != late || m["folder"] != "Work")
        .all(|m| m["local"] == true));
    let folders = doc["folders"].as_array().unwrap();
    let names: Vec<&str> = folders
        .iter()
        .map(|f| f["folder"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"INBOX") && names.contains(&"Work/Old"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("Lists")), "{names:?}");
    let work = folders.iter().find(|f| f["folder"] == "Work").unwrap();
    assert_eq!(work["matches"], 2);
    assert!(work["error"].is_null());

    let run = imapdir.run(&["--json", "search", "test", "--limit", "1", "subject:report"]);
    run.expect_success();
    let doc = parse(&run);
    assert_eq!(doc["matches"].as_array().unwrap().len(), 1);
    assert_eq!(doc["limited"], true);
}

#[test]
fn raw_keys_and_a_key_the_server_refuses() {
    let (_dovecot, mut client, imapdir, [alice, bob, _]) = seeded();
    client.create("Work");
    client.append(
        "Work",
        "",
        mail("alice@example.org", "Work budget", "x", "w").as_bytes(),
    );
    assert_eq!(
        uids(
            &imapdir,
            &["--folder", "INBOX", "--imap", "OR FROM alice FROM bob"]
        ),
        vec![alice, bob]
    );

    let run = imapdir.run(&["search", "test", "--imap", "BADKEY"]);
    run.expect_code(1);
    // Each folder says why; one failing does not stop the next.
    for folder in ["INBOX", "Work"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&format!(": {folder}: UID SEARCH failed"))),
            "{}",
            run.stderr
        );
    }
    let run = imapdir.run(&["--json", "search", "test", "--imap", "BADKEY"]);
    run.expect_code(1);
    let doc = parse(&run);
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["matches"].as_array().unwrap().len(), 0);
    for f in doc["folders"].as_array().unwrap() {
        assert!(f["matches"].is_null());
        assert!(
            f["error"].as_str().unwrap().contains("UID SEARCH failed"),
            "{f}"
        );
    }

    // Raw keys search every folder.
    let run = imapdir.run(&["search", "test", "--imap", "FROM alice"]);
    run.expect_success();
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
}

#[test]
fn plain_search_and_synchronising_literals_without_esearch_and_literal_plus() {
    let caps = CAPS_WITHOUT_MOVE
        .replace(" ESEARCH ", " ")
        .replace(" LITERAL+ ", " ");
    let dovecot = Dovecot::start_with(DovecotOptions {
        imap_capability: Some(caps),
        ..Default::default()
    });
    let mut client = dovecot.client();
    let bob = append_dated(
        &mut client,
        "INBOX",
        "01-Jun-2023 12:00:00 +0000",
        &mail(
            "bob@example.org",
            "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=",
            "Die Überweisung",
            "b",
        ),
    );
    client.append(
        "INBOX",
        "",
        mail("carol@example.org", "Other", "x", "c").as_bytes(),
    );
    let imapdir = Imapdir::new(&dovecot);
    let run = imapdir.run(&["--trace-imap", "search", "test", "body:Überweisung"]);
    run.expect_success();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!("INBOX\t{bob}\t")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("UID SEARCH CHARSET UTF-8 BODY {12}"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("RETURN (ALL)"), "{}", run.stderr);
}

#[test]
fn a_table_on_a_terminal() {
    let (_dovecot, _client, imapdir, [alice, _, carol]) = seeded();
    let config = imapdir.write_config();
    let term = common::pty::PtySession::spawn(
        imapdir.command_with_config(&config, &["search", "test", "since:2024-01-01"]),
    );
    let (code, output) = term.finish();
    assert_eq!(code, 0, "{output}");
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    assert!(
        lines[0].starts_with("FOLDER") && lines[0].ends_with("LOCAL  SUBJECT"),
        "{output}"
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("INBOX") && l.contains("Budget 2024"))
        .unwrap_or_else(|| panic!("{output}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cols[..5],
        &["INBOX", &alice.to_string(), "2024-03-10", "09:00", "Alice"],
        "{row}"
    );
    let big = lines
        .iter()
        .find(|l| l.contains(&format!(" {carol} ")))
        .unwrap_or_else(|| panic!("{output}"));
    assert!(big.contains("K  no "), "{big}");
    assert!(lines.contains(&"2 matches in 1 folder"), "{output}");
}

#[test]
fn local_is_unknown_after_a_uidvalidity_change() {
    let (dovecot, _client, imapdir, [alice, ..]) = seeded();
    imapdir.sync_ok();
    let run = imapdir.run(&["search", "test", "from:alice"]);
    run.expect_success();
    assert_eq!(run.stdout.split('\t').nth(5), Some("yes"), "{}", run.stdout);
    // The pairs recorded no longer describe the folder's UIDs.
    dovecot.set_uidvalidity("INBOX", 77);
    let run = imapdir.run(&["--json", "search", "test", "from:alice"]);
    run.expect_success();
    let doc = parse(&run);
    let m = &doc["matches"][0];
    assert_eq!(m["uid"], alice);
    assert!(m["local"].is_null(), "{doc}");
    let run = imapdir.run(&["search", "test", "from:alice"]);
    assert_eq!(run.stdout.split('\t').nth(5), Some("?"), "{}", run.stdout);
}

#[test]
fn a_folder_whose_connection_breaks_fails_alone() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    for folder in ["INBOX", "Work", "Zeta"] {
        if folder != "INBOX" {
            client.create(folder);
        }
        client.append(
            folder,
            "",
            mail("dave@example.org", "Quarterly report", "numbers", folder).as_bytes(),
        );
    }
    let proxy = proxy::FaultProxy::start(dovecot.imap_port());
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.port = proxy.port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    imapdir.account.ca_file = None;
    proxy.arm(proxy::Fault::new(
        proxy::Dir::ClientToServer,
        "EXAMINE \"Work\"",
        0,
        proxy::Action::Cut,
    ));
    let run = imapdir.run(&["search", "test", "subject:report"]);
    run.expect_code(1);
    assert!(proxy.fired());
    let folders: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(folders, vec!["INBOX", "Zeta"], "{}", run.stdout);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("imapdir: test: Work: ")),
        "{}",
        run.stderr
    );
}

/// Local messages of INBOX by Message-ID: (whole message, placeholder).
fn local_kinds(imapdir: &Imapdir) -> Vec<(String, bool)> {
    let mut kinds: Vec<(String, bool)> = maildir_messages(imapdir.maildir(), "INBOX")
        .iter()
        .map(|m| {
            let placeholder = String::from_utf8_lossy(&m.body).contains("X-Imapdir-Placeholder");
            (m.message_id().unwrap(), placeholder)
        })
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn fetch_brings_matches_outside_the_window_and_placeholders_in_as_pairs() {
    let (_dovecot, mut client, mut imapdir, [_alice, bob, _carol]) = seeded();
    imapdir.account.extra.extend([
        "since = \"2024-01-01\"".to_string(),
        "max_message_size = \"100K\"".to_string(),
    ]);
    imapdir.sync_ok();
    // Bob's (2023) is outside the window, Carol's a placeholder.
    assert_eq!(
        local_kinds(&imapdir),
        vec![
            ("<a@search.test>".to_string(), false),
            ("<c@search.test>".to_string(), true)
        ]
    );
    let run = imapdir.run(&[
        "--json",
        "search",
        "test",
        "--fetch",
        "from:bob or from:carol",
    ]);
    run.expect_success();
    let doc = parse(&run);
    assert_eq!(doc["matches"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["fetched"]["placeholders"], 1, "{doc}");
    assert_eq!(doc["fetched"]["outside_window"], 1, "{doc}");
    assert_eq!(doc["fetched"]["folders"][0], "INBOX", "{doc}");
    assert_eq!(doc["fetched"]["counts"]["downloaded"], 2, "{doc}");
    assert_eq!(
        local_kinds(&imapdir),
        vec![
            ("<a@search.test>".to_string(), false),
            ("<b@search.test>".to_string(), false),
            ("<c@search.test>".to_string(), false)
        ]
    );
    let whole = maildir_messages(imapdir.maildir(), "INBOX");
    let carols = whole
        .iter()
        .find(|m| m.message_id().as_deref() == Some("<c@search.test>"))
        .unwrap();
    assert!(carols.body.len() > 200_000, "the whole message");
    // Pairs now: they stay, sync flags, and the next syncs download nothing.
    client.store("INBOX", bob, "+FLAGS", "\\Flagged");
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    assert!(!run.stderr.contains("BODY.PEEK[]"), "{}", run.stderr);
    let bobs = maildir_messages(imapdir.maildir(), "INBOX")
        .into_iter()
        .find(|m| m.message_id().as_deref() == Some("<b@search.test>"))
        .unwrap();
    assert!(bobs.flags.contains('F'), "{}", bobs.name);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
    assert_eq!(client.fetch_all("INBOX").len(), 3);
    // All local now: a second --fetch has nothing to do.
    let run = imapdir.run(&["search", "test", "--fetch", "from:bob or from:carol"]);
    run.expect_success();
    assert!(
        run.stdout.lines().all(|l| l.contains("\tyes\t")),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("fetched"), "{}", run.stderr);
}
