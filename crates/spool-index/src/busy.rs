//! Waiting for another connection's write lock on the index file.
//!
//! The server writes the file from several connections (the follower, broadcasts, the
//! reservations), and SQLite lets one write at a time. Its default wait (`busy_timeout`)
//! sleeps 1, 2, 5, 10, ... up to 100 ms between tries, so a request that meets a commit of
//! a fraction of a millisecond often waits several milliseconds. This wait tries again after
//! 50 µs, doubling up to 2 ms, and gives up after about [`GIVE_UP_AFTER`] as before.

use std::time::Duration;

use rusqlite::Connection;

/// How long a write waits for the lock before failing with "database is locked".
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

const FIRST: Duration = Duration::from_micros(50);
const LONGEST: Duration = Duration::from_millis(2);

/// The pause before try `n + 1` (`n` from 0).
fn pause(n: u32) -> Duration {
    FIRST.saturating_mul(1 << n.min(16)).min(LONGEST)
}

/// Whether to try again after `n` failed tries: until their pauses add up to
/// [`GIVE_UP_AFTER`].
fn again(n: i32) -> bool {
    let n = u32::try_from(n).unwrap_or(0);
    // The pauses reach LONGEST after 6 tries (3.15 ms in all); then LONGEST each.
    let ramp: Duration = (0..6).map(pause).sum();
    let waited = if n <= 6 {
        (0..n).map(pause).sum()
    } else {
        ramp + LONGEST * (n - 6)
    };
    if waited >= GIVE_UP_AFTER {
        return false;
    }
    std::thread::sleep(pause(n));
    true
}

/// Sets `conn`'s wait for the write lock (see the module documentation).
///
/// # Errors
/// SQLite's failure to set the handler.
pub fn wait_briefly(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(again))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_ramp_up_then_hold_and_add_up_to_the_limit() {
        assert_eq!(pause(0), Duration::from_micros(50));
        assert_eq!(pause(1), Duration::from_micros(100));
        assert_eq!(pause(5), Duration::from_micros(1600));
        assert_eq!(pause(6), LONGEST);
        assert_eq!(pause(40), LONGEST);
        let (mut waited, mut last) = (Duration::ZERO, 0);
        while waited < GIVE_UP_AFTER {
            waited += pause(last);
            last += 1;
        }
        // About 15,000 tries of 2 ms: 30 s.
        assert!((14_990..=15_010).contains(&last), "{last}");
    }

    #[test]
    fn a_second_writer_waits_for_the_first_and_then_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let first = Connection::open(&path).unwrap();
        first
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x)")
            .unwrap();
        let second = Connection::open(&path).unwrap();
        wait_briefly(&second).unwrap();
        first
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
            .unwrap();
        let writer = std::thread::spawn(move || {
            second.execute("INSERT INTO t VALUES (2)", []).unwrap();
            second
        });
        std::thread::sleep(Duration::from_millis(30));
        first.execute_batch("COMMIT").unwrap();
        let second = writer.join().unwrap();
        let n: i64 = second
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
