//! Feeds arbitrary bytes to the IMAP response reader (framing and literal
//! handling): it must return responses or errors, never panic or hang.
#![no_main]

use imapdir::imap::framing::{read_response, DiscardSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = std::io::BufReader::with_capacity(64, data);
    // Read responses until the input runs out or a framing error stops it.
    for _ in 0..1024 {
        match read_response(&mut reader, &mut DiscardSink, true) {
            Ok(frame) => {
                let _ = frame;
            }
            Err(_) => break,
        }
    }
});
