//! Test mail: deterministic RFC 5322 messages with unique Message-IDs and
//! varying sizes, and a small seeded PRNG for randomized tests.

/// The Message-ID that [`generate_message`] gives message `i` of `folder`.
pub fn generated_message_id(i: usize, folder: &str) -> String {
    format!("<{i}.{}@test>", id_safe(folder))
}

fn id_safe(folder: &str) -> String {
    folder
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A realistic RFC 5322 message with CRLF line endings, a unique
/// `Message-ID: <i.folder@test>` and a body whose size varies with `i`.
pub fn generate_message(i: usize, folder: &str) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "sync",
        "maildir",
        "server",
        "folder",
        "message",
        "flag",
        "local",
        "remote",
        "quarterly",
        "report",
        "meeting",
        "budget",
        "draft",
        "review",
        "archive",
        "invoice",
        "deadline",
    ];
    let day = 1 + i % 28;
    let hour = i % 24;
    let minute = (i * 7) % 60;
    let mut msg = format!(
        "Return-Path: <sender{n}@example.org>\r\n\
         From: Sender {n} <sender{n}@example.org>\r\n\
         To: Bench User <bench@localhost>\r\n\
         Subject: Test message {i} in {folder}\r\n\
         Date: Mon, {day:02} Jan 2024 {hour:02}:{minute:02}:00 +0000\r\n\
         Message-ID: {mid}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello,\r\n\r\n",
        n = i % 13,
        mid = generated_message_id(i, folder),
    );
    let target = 200 + (i * 137) % 1800;
    let mut k = i as u64;
    let mut line = String::new();
    while msg.len() < target {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        line.push_str(WORDS[(k >> 33) as usize % WORDS.len()]);
        line.push(' ');
        if line.len() > 60 {
            msg.push_str(line.trim_end());
            msg.push_str("\r\n");
            line.clear();
        }
    }
    msg.push_str(&format!("\r\n-- \r\nMessage {i} of folder {folder}\r\n"));
    msg.into_bytes()
}

/// Small deterministic PRNG (xorshift64*) for seeded randomized tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
