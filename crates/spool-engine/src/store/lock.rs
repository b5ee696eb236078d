//! The store's files under one lock: opening, reading what another process changed,
//! committing a change to the log (and compacting it), and the in-memory copy.

use super::*;

#[derive(Debug)]
pub(super) struct Store {
    pub(super) dir: PathBuf,
    pub(super) file: PathBuf,
    pub(super) log: PathBuf,
    pub(super) lock_path: PathBuf,
    pub(super) generation_path: PathBuf,
    pub(super) snapshot: PathBuf,
    pub(super) lock: File,
    pub(super) lock_wait: Duration,
}

/// The in-memory copy and the store generation it reflects (`None`: must reload).
#[derive(Debug, Default)]
pub(super) struct Cached {
    pub(super) set: ReservationSet,
    pub(super) records: BTreeMap<Txid, Record>,
    pub(super) generation: Option<u64>,
    /// What was read of the log (`None`: no log file, or must be read again from its start).
    pub(super) log: Option<LogView>,
}

impl Store {
    /// The current generation; `None` when the file is unreadable (then always reload).
    pub(super) fn generation(&self) -> Option<u64> {
        match fs::read_to_string(&self.generation_path) {
            Ok(text) => text.trim().parse().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
            Err(_) => None,
        }
    }

    pub(super) fn write_generation(&self, generation: u64) -> Result<(), StoreError> {
        let path = &self.generation_path;
        // No fsync: the counter only tells live processes that their cached copy is stale
        // (they read it through the page cache); after a crash every process reloads.
        // Written in place, 20 digits wide (every u64 fits), never truncated: a truncation
        // makes the file system allocate the file's block again at every commit.
        overwrite_start(path, format!("{generation:020}").as_bytes()).map_err(io(path, "write"))
    }

    /// Brings `cached` up to date with the log: nothing is read when the generation and the
    /// log file are as last seen, only the lines appended since when the same file grew,
    /// else the whole log. On an error the cache is left to be read again from the start.
    pub(super) fn refresh(&self, cached: &mut Cached) -> Result<(), StoreError> {
        let generation = self.generation();
        let meta = match fs::metadata(&self.log) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&self.log, "stat")(e)),
        };
        let unchanged = match (&cached.log, &meta) {
            (Some(view), Some(meta)) => view.is_current(meta),
            (None, None) => true,
            _ => false,
        };
        if generation.is_some() && generation == cached.generation && unchanged {
            return Ok(());
        }
        cached.generation = None;
        let view = match (cached.log.take(), meta) {
            // No log (moved aside to recover from corruption): no reservations.
            (_, None) => {
                cached.records.clear();
                cached.set = ReservationSet::new();
                None
            }
            (Some(mut view), Some(meta)) if view.continues_in(&meta) => {
                view.read(&self.log, None, &mut cached.records, &mut cached.set)?;
                Some(view)
            }
            (_, Some(_)) => {
                cached.records.clear();
                cached.set = ReservationSet::new();
                let mut view = LogView::open(&self.log)?;
                view.read(
                    &self.log,
                    Some(&self.snapshot),
                    &mut cached.records,
                    &mut cached.set,
                )?;
                Some(view)
            }
        };
        cached.log = view;
        cached.generation = generation;
        Ok(())
    }

    /// Makes the directory a store of the current version, under the exclusive lock: the
    /// records of a version 2 or 3 `reservations.json` move into a new log (the document is
    /// kept as `reservations.json.v<version>`), a binary store likewise (kept as
    /// `reservations.dat.migrated`), a directory without a store gets an empty log; then the
    /// pointer is written. Does nothing when another process did it meanwhile.
    pub(super) fn upgrade(&self) -> Result<(), StoreError> {
        match document::read(&self.file)? {
            Found::Pointer => return Ok(()),
            Found::Records { version, records } => {
                let records: BTreeMap<Txid, Record> =
                    records.into_iter().map(|r| (r.txid, r)).collect();
                set_of(&records).map_err(|conflict| StoreError::Corrupt {
                    path: self.file.clone(),
                    reason: conflict.to_string(),
                })?;
                log::write(&self.dir, &self.log, &records)?;
                self.keep_document(version)?;
                document::write_pointer(&self.dir, &self.file)?;
            }
            Found::Missing => {
                let legacy = self.dir.join(LEGACY_FILE);
                if self.log.exists() {
                    // Only the pointer was moved aside: the log holds the records.
                } else if legacy.exists() {
                    self.migrate_binary(&legacy)?;
                } else {
                    log::write(&self.dir, &self.log, &BTreeMap::new())?;
                }
                document::write_pointer(&self.dir, &self.file)?;
                if legacy.exists() && !self.dir.join(LEGACY_KEPT).exists() {
                    let kept = self.dir.join(LEGACY_KEPT);
                    fs::rename(&legacy, &kept).map_err(io(&legacy, "rename"))?;
                }
            }
        }
        let next = self.generation().map_or(1, |g| g + 1);
        self.write_generation(next)
    }

    /// Keeps the document of `version` beside the store as `reservations.json.v<version>`
    /// (a second name of the same file, which the pointer then replaces); a name already
    /// taken by other content gets a numbered suffix.
    pub(super) fn keep_document(&self, version: u32) -> Result<(), StoreError> {
        let name = format!("{STATE_FILE}.v{version}");
        let content = fs::read(&self.file).map_err(io(&self.file, "read"))?;
        let mut kept = self.dir.join(&name);
        let mut n = 0;
        while kept.exists() {
            if fs::read(&kept).ok().as_deref() == Some(content.as_slice()) {
                return Ok(());
            }
            n += 1;
            kept = self.dir.join(format!("{name}.{n}"));
        }
        fs::hard_link(&self.file, &kept)
            .or_else(|_| fs::copy(&self.file, &kept).map(drop))
            .map_err(io(&kept, "keep the previous version"))
    }

    /// Appends one line to the broadcast journal and fsyncs it.
    pub(super) fn journal(&self, txid: Txid, at: u64, hex: &str) -> Result<(), StoreError> {
        let path = self.dir.join(JOURNAL_FILE);
        let mut line = serde_json::to_vec(&JournalLine { txid, at, hex }).expect("serialises");
        line.push(b'\n');
        let mut f = private_file(&path, true).map_err(io(&path, "open"))?;
        f.write_all(&line).map_err(io(&path, "append"))?;
        f.sync_all().map_err(io(&path, "fsync"))
    }

    /// Takes the file lock. While other processes make progress (the generation or the
    /// holder changes) it waits on; a lock held by one holder without progress for
    /// `lock_wait` is given up, naming the holder.
    pub(super) fn acquire(&self, exclusive: bool) -> Result<(), StoreError> {
        use std::fs::TryLockError;
        let mut started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut seen = None;
        loop {
            let tried = if exclusive {
                self.lock.try_lock()
            } else {
                self.lock.try_lock_shared()
            };
            match tried {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io(&self.lock_path, "lock")(e)),
            }
            let now_seen = Some((self.generation(), lock_holder(&self.lock)));
            if now_seen != seen {
                seen = now_seen;
                started = Instant::now();
            }
            let waited = started.elapsed();
            if waited >= self.lock_wait {
                return Err(StoreError::LockTimeout {
                    path: self.lock_path.clone(),
                    holder: lock_holder(&self.lock),
                    waited,
                });
            }
            std::thread::sleep(pause.min(self.lock_wait - waited));
            pause = (pause * 2).min(Duration::from_millis(4));
        }
    }

    /// Writes the records of the binary store `legacy` (before version 2) into a new log.
    pub(super) fn migrate_binary(&self, legacy: &Path) -> Result<(), StoreError> {
        let bytes = fs::read(legacy).map_err(io(legacy, "read"))?;
        let set = legacy::decode(&bytes).map_err(|reason| match reason {
            legacy::Decode::Version(version) => StoreError::UnknownVersion {
                path: legacy.to_owned(),
                version,
            },
            legacy::Decode::Corrupt(reason) => StoreError::Corrupt {
                path: legacy.to_owned(),
                reason: reason.to_owned(),
            },
        })?;
        let records = set
            .reservations()
            .map(|r| {
                (
                    r.txid,
                    Record {
                        owner: None,
                        state: TxState::Broadcast,
                        ..Record::new(r.txid, r.outpoints.clone(), r.reserved_at)
                    },
                )
            })
            .collect();
        log::write(&self.dir, &self.log, &records).map(drop)
    }
}

/// The set under the in-process mutex and, when persisted, the file lock.
pub(super) struct Locked<'a> {
    pub(super) owner: &'a Reservations,
    pub(super) cache: MutexGuard<'a, Cached>,
}

impl Locked<'_> {
    /// Saves a change already made to the cache: drops `drop`, puts the records of `put`, as
    /// one line appended to the log (after bumping the generation); then compacts the log
    /// when it holds more entries than the live records plus [`COMPACT_MIN`] or a quarter of
    /// them.
    pub(super) fn commit(&mut self, drop: &[Txid], put: &[Txid]) -> Result<(), StoreError> {
        self.commit_as(drop, put, Durability::Synced)
    }

    /// [`Locked::commit`], on disk before it returns only when `durability` says so.
    pub(super) fn commit_as(
        &mut self,
        drop: &[Txid],
        put: &[Txid],
        durability: Durability,
    ) -> Result<(), StoreError> {
        let Some(store) = &self.owner.store else {
            return Ok(());
        };
        if drop.is_empty() && put.is_empty() {
            return Ok(());
        }
        let cache = &mut *self.cache;
        // Until the append succeeds the cache may be ahead of the disk: distrust it (a later
        // operation reads the whole log again).
        let view = cache.log.take();
        let next = cache.generation.take().map_or(1, |g| g + 1);
        store.write_generation(next)?;
        let mut view = match view {
            Some(mut view) => {
                let records = put.iter().filter_map(|t| cache.records.get(t)).collect();
                let (line, entries) = log::commit_line(drop, records);
                view.append(&store.log, &line, entries, durability)?;
                view
            }
            // No log file (moved aside): a new one with every record.
            None => log::write(&store.dir, &store.log, &cache.records)?,
        };
        let live = cache.records.len();
        if view.entries() > live + COMPACT_MIN.max(live / 4) {
            // The change is saved whatever happens here; a compaction that fails is tried
            // again at the next commit (and a log replaced meanwhile is noticed on reading).
            if let Ok(compacted) = log::write(&store.dir, &store.log, &cache.records) {
                view = compacted;
            }
        }
        // A process opening the store then decodes at most this many lines of JSON.
        if view.lines_since_snapshot() >= SNAPSHOT_EVERY
            && snapshot::write(&store.snapshot, &view.prefix(), &cache.records).is_ok()
        {
            view.snapshot_written();
        }
        cache.log = Some(view);
        cache.generation = Some(next);
        Ok(())
    }

    /// Replaces the set, keeping each surviving transaction's record (new ones get a record
    /// owned by this process), and saves what changed.
    pub(super) fn replace_set(&mut self, set: ReservationSet) -> Result<(), StoreError> {
        if set == self.cache.set {
            return Ok(());
        }
        let mut records = BTreeMap::new();
        let mut put = Vec::new();
        for r in set.reservations() {
            let record = match self.cache.records.remove(&r.txid) {
                Some(old) if old.outpoints == r.outpoints => old,
                Some(old) => {
                    put.push(r.txid);
                    Record {
                        outpoints: r.outpoints.clone(),
                        ..old
                    }
                }
                None => {
                    put.push(r.txid);
                    Record::new(r.txid, r.outpoints.clone(), r.reserved_at)
                }
            };
            records.insert(r.txid, record);
        }
        // What is left of the old records is gone from the set.
        let drop: Vec<Txid> = self.cache.records.keys().copied().collect();
        self.cache.records = records;
        self.cache.set = set;
        self.commit(&drop, &put)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(store) = &self.owner.store {
            // Unlocking cannot meaningfully fail; the lock also ends when the fd closes.
            let _ = store.lock.unlock();
        }
    }
}

pub(super) fn set_of(
    records: &BTreeMap<Txid, Record>,
) -> Result<ReservationSet, ReservationConflict> {
    ReservationSet::from_reservations(records.values().map(|r| Reservation {
        txid: r.txid,
        outpoints: r.outpoints.clone(),
        reserved_at: r.reserved_at,
    }))
}
