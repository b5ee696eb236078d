//! Two clients, each keeping one connection, taken in turn by successive calls.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Two clients of one server, each keeping one connection, handed out in turn: successive
/// calls never follow one another on the same connection. Two things make that worth a
/// second connection:
/// - Bitcoin Core's HTTP server (v31's) reads a connection's next request only once the
///   worker that answered the previous one marks it done, which it does just after sending
///   the reply; a request sent in between waits for its I/O loop to come round again, up to
///   50 ms. Through `spool serve` on a busy machine that happened to one broadcast in ten.
/// - bitreq answers one connection's requests one after the other, so two sends at once
///   (`spool batch` sends two independent lines) would otherwise wait for each other.
pub struct Turns<T> {
    clients: [T; 2],
    next: AtomicUsize,
}

impl<T> Turns<T> {
    /// `first` and `second`, in turn from `first`.
    pub fn new(first: T, second: T) -> Turns<T> {
        Turns {
            clients: [first, second],
            next: AtomicUsize::new(0),
        }
    }

    /// Two clients made by `make`.
    ///
    /// # Errors
    ///
    /// The first error of `make`.
    pub fn try_new<E>(mut make: impl FnMut() -> Result<T, E>) -> Result<Turns<T>, E> {
        Ok(Turns::new(make()?, make()?))
    }

    /// The client whose turn it is.
    pub fn next(&self) -> &T {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        &self.clients[turn % self.clients.len()]
    }
}

impl<T> std::fmt::Debug for Turns<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns")
            .field("next", &(self.next.load(Ordering::Relaxed) % 2))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successive_calls_alternate_between_the_two() {
        let mut made = 0;
        let turns = Turns::try_new(|| {
            made += 1;
            Ok::<_, ()>(made)
        })
        .unwrap();
        let taken: Vec<i32> = (0..5).map(|_| *turns.next()).collect();
        assert_eq!(taken, [1, 2, 1, 2, 1]);
    }
}
