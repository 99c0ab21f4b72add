//! The outbox against a real Postfix (submission with STARTTLS and with
//! TLS) and a real Dovecot (Sent): each message delivered once to each
//! recipient, filed once in Sent with \Seen, Bcc stripped, refusals kept
//! with the server's reply, and kill -9 while sending.

mod common;

use common::smtp_server::Postfix;
use common::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

fn servers() -> (Dovecot, Postfix) {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start(&dovecot.dir().join("ssl"));
    (dovecot, postfix)
}

fn with_outbox(dovecot: &Dovecot, port: u16, tls: &str) -> Imapdir {
    let mut imapdir = Imapdir::new(dovecot);
    imapdir.account.extra.extend([
        "outbox = \"Outbox\"".to_string(),
        "smtp_host = \"localhost\"".to_string(),
        format!("smtp_port = {port}"),
        format!("smtp_tls = \"{tls}\""),
    ]);
    imapdir
}

fn mail(i: usize, to: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: Bench <bench@localhost>\r\nTo: {to}\r\n{extra}Subject: outgoing {i}\r\n\
         Message-ID: <out.{i}@localhost>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n\
         Hello {i}.\r\n.leading dot\r\n"
    )
    .into_bytes()
}

fn queue(imapdir: &Imapdir, i: usize, body: &[u8]) {
    write_local_message(
        imapdir.maildir(),
        "Outbox",
        &format!("17000000{i:03}.R{i}.test"),
        body,
        None,
    );
}

/// Delivered copies by (Delivered-To, Message-ID).
fn copies(delivered: &[Vec<u8>]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for body in delivered {
        let text = String::from_utf8_lossy(body);
        let to = text
            .lines()
            .find_map(|l| l.strip_prefix("Delivered-To: "))
            .unwrap_or("?")
            .trim()
            .to_string();
        let mid = message_id(body).unwrap_or_default();
        *out.entry((to, mid)).or_default() += 1;
    }
    out
}

fn header_names(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split(':').next().map(|n| n.to_ascii_lowercase()))
        .collect()
}

fn outbox_files(imapdir: &Imapdir) -> usize {
    maildir_messages(imapdir.maildir(), "Outbox").len()
}

#[test]
fn starttls_delivery_files_in_sent_once_and_strips_bcc() {
    let (dovecot, postfix) = servers();
    let imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    queue(&imapdir, 1, &mail(1, "a@example.test", ""));
    queue(
        &imapdir,
        2,
        &mail(
            2,
            "a@example.test",
            "Cc: Bee <b@example.test>\r\nBcc: hidden@example.test,\r\n other@example.test\r\n",
        ),
    );
    let run = imapdir.run(&["--json", "sync"]);
    run.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["accounts"][0]["counts"]["sent"], 2, "{}", run.stdout);
    let delivered = postfix.wait_delivered(5);
    let got = copies(&delivered);
    let want: BTreeMap<(String, String), usize> = [
        ("a@example.test", "<out.1@localhost>"),
        ("a@example.test", "<out.2@localhost>"),
        ("b@example.test", "<out.2@localhost>"),
        ("hidden@example.test", "<out.2@localhost>"),
        ("other@example.test", "<out.2@localhost>"),
    ]
    .into_iter()
    .map(|(a, b)| ((a.to_string(), b.to_string()), 1))
    .collect();
    assert_eq!(got, want, "each recipient once, Bcc ones included");
    for body in &delivered {
        assert!(!header_names(body).contains(&"bcc".to_string()), "Bcc sent");
        assert!(String::from_utf8_lossy(body).contains("\n.leading dot"));
    }
    let sent = dovecot.client().fetch_all("Sent");
    assert_eq!(sent.len(), 2);
    for m in &sent {
        assert!(
            m.flags.iter().any(|f| f == "\\Seen"),
            "filed as read: {:?}",
            m.flags
        );
        assert!(!header_names(&m.body).contains(&"bcc".to_string()));
    }
    assert_eq!(outbox_files(&imapdir), 0, "the outbox is empty");
    assert!(
        !dovecot
            .client()
            .list()
            .iter()
            .any(|f| f.starts_with("Outbox")),
        "the outbox is never a server folder"
    );
    // Again: nothing more is sent or filed.
    imapdir.sync_ok();
    assert_eq!(postfix.wait_delivered(5).len(), 5);
    assert_eq!(dovecot.client().fetch_all("Sent").len(), 2);
}

#[test]
fn sendmail_over_tls_queues_and_sends_at_once() {
    let (dovecot, postfix) = servers();
    let imapdir = with_outbox(&dovecot, postfix.tls_port, "tls");
    imapdir.write_config();
    let run = |args: &[&str], body: &[u8]| {
        let mut child = imapdir
            .command_with_config(&imapdir.config_file(), args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        child.wait_with_output().unwrap()
    };
    // No Message-ID: one is added, the same in the copy and in Sent.
    let without_id = b"From: bench@localhost\nTo: a@example.test\nSubject: x\n\nhi\n";
    let out = run(&["sendmail", "-t", "-oi"], without_id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Recipients named: only they get it, the header's To does not.
    let out = run(
        &["--json", "sendmail", "-i", "c@example.test"],
        &mail(3, "a@example.test", ""),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["command"], "sendmail");
    assert_eq!(doc["sent"], 1, "{doc}");
    assert_eq!(doc["send_tried"], true);
    assert_eq!(doc["error"], serde_json::Value::Null);
    assert!(
        doc["queued"].as_str().unwrap().contains("/Outbox/new/"),
        "{doc}"
    );
    let delivered = postfix.wait_delivered(2);
    let got = copies(&delivered);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains_key(&("c@example.test".into(), "<out.3@localhost>".into())));
    let added = got
        .keys()
        .find(|(to, _)| to == "a@example.test")
        .map(|(_, mid)| mid.clone())
        .unwrap();
    assert!(added.starts_with("<imapdir."), "{added}");
    for body in &delivered {
        assert!(!String::from_utf8_lossy(body).contains("X-Imapdir"));
    }
    let sent = dovecot.client().fetch_all("Sent");
    let sent_ids: Vec<String> = sent.iter().filter_map(|m| m.message_id()).collect();
    assert!(sent_ids.contains(&added), "{sent_ids:?}");
    assert_eq!(sent.len(), 2);
    assert_eq!(outbox_files(&imapdir), 0);
}

#[test]
fn refusals_keep_the_message_with_the_reply_or_for_the_next_run() {
    let (dovecot, postfix) = servers();
    let imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    queue(&imapdir, 1, &mail(1, "reject@example.test", ""));
    queue(&imapdir, 2, &mail(2, "later@example.test", ""));
    queue(
        &imapdir,
        3,
        b"From: bench@localhost\r\nSubject: nobody\r\n\r\nno recipients\r\n",
    );
    let mut big = mail(4, "a@example.test", "");
    big.extend(std::iter::repeat_n(b'x', 300_000));
    queue(&imapdir, 4, &big);
    queue(&imapdir, 5, &mail(5, "a@example.test", ""));
    let out = imapdir.sync_ok();
    let failed = imapdir.maildir().join("Outbox/failed");
    let reply = |i: usize| {
        std::fs::read_to_string(failed.join(format!("17000000{i:03}.R{i}.test.reply")))
            .unwrap_or_else(|e| panic!("no reply for {i}: {e}\n{}", out.stderr))
    };
    assert!(reply(1).contains("550"), "{}", reply(1));
    assert!(reply(3).contains("no recipients"), "{}", reply(3));
    assert!(reply(4).contains("larger than"), "{}", reply(4));
    for i in [1, 3, 4] {
        assert!(failed.join(format!("17000000{i:03}.R{i}.test")).exists());
        assert!(
            out.stderr.contains(&format!("17000000{i:03}.R{i}.test")),
            "{}",
            out.stderr
        );
    }
    // The temporary refusal stays for the next run; the good one went.
    let left = maildir_messages(imapdir.maildir(), "Outbox");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id().as_deref(), Some("<out.2@localhost>"));
    assert!(out.stderr.contains("451"), "{}", out.stderr);
    let delivered = postfix.wait_delivered(1);
    assert_eq!(delivered.len(), 1);
    assert_eq!(dovecot.client().fetch_all("Sent").len(), 1);
}

#[test]
fn kill_9_while_sending_delivers_every_message_exactly_once() {
    let (dovecot, postfix) = servers();
    let mut imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    const N: usize = 120;
    for i in 0..N {
        queue(&imapdir, i, &mail(i, "a@example.test", ""));
    }
    let mut rng = Rng::new(9);
    let mut killed = 0;
    for _ in 0..10 {
        if outbox_files(&imapdir) == 0 {
            break;
        }
        // Killed once it has sent a random number more (so the kill lands
        // inside the sending however fast the machine is).
        let before = outbox_files(&imapdir);
        let target = before.saturating_sub(1 + rng.below(15));
        let started = Instant::now();
        let mut child = imapdir.spawn(&["sync"]);
        let mut done = false;
        loop {
            if child.try_wait().unwrap().is_some() {
                done = true;
                break;
            }
            if outbox_files(&imapdir) <= target || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        if !done {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    imapdir.sync_ok();
    eprintln!("{killed} runs killed while sending");
    assert!(killed >= 2, "only {killed} runs were killed");
    let delivered = postfix.wait_delivered(N);
    let got = copies(&delivered);
    assert!(
        got.values().all(|n| *n == 1),
        "a message delivered twice: {got:?}"
    );
    // A run killed between the final dot and the server's reply leaves a
    // message nothing can tell sent or not: kept in failed/ as uncertain,
    // never sent again by itself. Every other message is delivered.
    let failed = imapdir.maildir().join("Outbox/failed");
    let mut uncertain = 0;
    for i in 0..N {
        let name = format!("17000000{i:03}.R{i}.test");
        let key = ("a@example.test".to_string(), format!("<out.{i}@localhost>"));
        if failed.join(&name).exists() {
            let reply = std::fs::read_to_string(failed.join(format!("{name}.reply"))).unwrap();
            assert!(reply.starts_with("uncertain"), "{reply}");
            uncertain += 1;
        } else {
            assert!(
                got.contains_key(&key),
                "message {i} neither delivered nor kept"
            );
        }
    }
    eprintln!("{uncertain} of {N} kept as uncertain after {killed} kills");
    assert_eq!(outbox_files(&imapdir), 0);
    // Each message delivered is filed in Sent once; an uncertain one is
    // not filed (it stays in failed/ for the user).
    let sent = dovecot.client().fetch_all("Sent");
    let mut ids: Vec<String> = sent.iter().filter_map(|m| m.message_id()).collect();
    let filed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), filed, "a message filed twice");
    assert_eq!(filed, N - uncertain);
}

#[test]
fn watch_sends_a_message_dropped_in_the_outbox_within_seconds() {
    let (dovecot, postfix) = servers();
    let mut imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    imapdir.sync_ok();
    let mut child = imapdir.spawn(&["watch"]);
    thread::sleep(Duration::from_millis(1500));
    let dropped = Instant::now();
    queue(&imapdir, 7, &mail(7, "a@example.test", ""));
    let deadline = Instant::now() + Duration::from_secs(20);
    while postfix.delivered().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let took = dropped.elapsed();
    let pid = child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "watch exited with {status}");
    let delivered = postfix.wait_delivered(1);
    assert_eq!(delivered.len(), 1, "sent once, within {took:?}");
    eprintln!("delivered {took:?} after the drop");
    assert!(took < Duration::from_secs(15));
    assert_eq!(outbox_files(&imapdir), 0);
    assert_eq!(dovecot.client().fetch_all("Sent").len(), 1);
}

#[test]
fn sent_mail_is_filed_in_the_special_use_sent_folder_under_the_namespace() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        personal_namespace: Some(("INBOX.", '.')),
        special_use: vec![("Sent Messages", "\\Sent")],
        ..DovecotOptions::default()
    });
    let postfix = Postfix::start(&dovecot.dir().join("ssl"));
    dovecot.client().create("INBOX.Sent Messages");
    let imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    queue(&imapdir, 1, &mail(1, "a@example.test", ""));
    imapdir.sync_ok();
    assert_eq!(postfix.wait_delivered(1).len(), 1);
    let filed = dovecot.client().fetch_all("INBOX.Sent Messages");
    assert_eq!(filed.len(), 1, "filed in the \\Sent folder");
    assert!(
        !dovecot
            .client()
            .list()
            .iter()
            .any(|f| f == "Sent" || f == "INBOX.Sent"),
        "no second Sent folder: {:?}",
        dovecot.client().list()
    );

    // Without a \Sent folder: Sent under the personal namespace, made once.
    let dovecot = Dovecot::start_with(DovecotOptions {
        personal_namespace: Some(("INBOX.", '.')),
        ..DovecotOptions::default()
    });
    let postfix = Postfix::start(&dovecot.dir().join("ssl"));
    let imapdir = with_outbox(&dovecot, postfix.starttls_port, "starttls");
    queue(&imapdir, 2, &mail(2, "a@example.test", ""));
    imapdir.sync_ok();
    assert_eq!(postfix.wait_delivered(1).len(), 1);
    assert_eq!(dovecot.client().fetch_all("INBOX.Sent").len(), 1);
}

#[test]
fn smtp_auth_against_postfix_checked_by_dovecot() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        sasl_socket: true,
        ..DovecotOptions::default()
    });
    let postfix = Postfix::start_with_sasl(&dovecot.dir().join("ssl"), &dovecot.sasl_socket());

    // A wrong password: AUTH is refused, the message waits, nothing is sent.
    let mut imapdir = with_outbox(&dovecot, postfix.auth_port, "starttls");
    let real = imapdir.account.password.clone();
    queue(&imapdir, 1, &mail(1, "a@example.test", ""));
    imapdir.account.password = "not-the-password-xyz".into();
    let out = imapdir.run(&["sync"]);
    assert_ne!(out.code, 0, "{}", out.all_output());
    assert!(out.stderr.contains("SMTP login refused"), "{}", out.stderr);
    assert!(!out.all_output().contains("not-the-password-xyz"));
    assert_eq!(outbox_files(&imapdir), 1, "the message waits in the outbox");
    assert!(postfix.delivered().is_empty());

    // The right one: sent once, as the authenticated user.
    imapdir.account.password = real;
    imapdir.sync_ok();
    assert_eq!(postfix.wait_delivered(1).len(), 1);
    assert!(
        postfix
            .log()
            .contains(&format!("sasl_username={}", imapdir.account.user)),
        "{}",
        postfix.log()
    );
    assert_eq!(outbox_files(&imapdir), 0);
}
