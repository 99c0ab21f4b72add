//! `imapdir::fuzzing::modified_utf7`: see that function for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapdir::fuzzing::modified_utf7(data));
