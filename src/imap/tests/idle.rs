//! IDLE against scripted servers: changes, timeouts, interrupts, hang-ups.

use super::*;

const IDLE_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n";

#[test]
fn idle_returns_on_a_change_and_ends_with_done() {
    let (opts, server) = serve(
        IDLE_GREETING,
        vec![
            (
                "IDLE",
                b"+ idling\r\n* OK Still here\r\n* 4 EXISTS\r\n".to_vec(),
            ),
            (
                "",
                b"* 1 FETCH (FLAGS (\\Seen))\r\nTAG OK Idle completed\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let event = s.idle_wait(Duration::from_secs(5), &|| false).unwrap();
    assert_eq!(event, IdleEvent::Changed);
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen[1], "DONE", "{seen:?}");
}

#[test]
fn idle_times_out_and_stops_on_interrupt() {
    let (opts, server) = serve(
        IDLE_GREETING,
        vec![
            ("IDLE", b"+ idling\r\n".to_vec()),
            ("", b"TAG OK Idle completed\r\n".to_vec()),
            ("IDLE", b"+ idling\r\n".to_vec()),
            ("", b"TAG OK Idle completed\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let started = std::time::Instant::now();
    let event = s.idle_wait(Duration::from_millis(300), &|| false).unwrap();
    assert_eq!(event, IdleEvent::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let started = std::time::Instant::now();
    let event = s
        .idle_wait(Duration::from_secs(60), &|| {
            // Asked to stop a little after the wait began.
            let late = started.elapsed() > Duration::from_millis(250);
            stop.load(std::sync::atomic::Ordering::SeqCst) || late
        })
        .unwrap();
    assert_eq!(event, IdleEvent::Interrupted);
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(s);
    server.join().unwrap();
}

#[test]
fn idle_reports_a_server_hang_up_as_a_lost_connection() {
    let (opts, server) = serve(
        IDLE_GREETING,
        vec![(
            "IDLE",
            b"+ idling\r\n* BYE Server shutting down.\r\n".to_vec(),
        )],
    );
    let mut s = Session::connect(&opts).unwrap();
    let err = s.idle_wait(Duration::from_secs(5), &|| false).unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    server.join().unwrap();
}

#[test]
fn idle_needs_the_capability() {
    let (opts, server) = serve(GREETING, vec![]);
    let mut s = Session::connect(&opts).unwrap();
    assert!(!s.can_idle());
    let err = s.idle_wait(Duration::from_secs(1), &|| false).unwrap_err();
    assert!(matches!(err, ImapError::Protocol(_)), "{err:?}");
    drop(s);
    server.join().unwrap();
}
