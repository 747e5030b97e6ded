#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// Log lines written to a file descriptor (standard error by default) in batches.
///
/// A `write(2)` per line was a fifth of the server's time on a request that does little else. Here a line is only
/// copied into a buffer; a flusher thread writes what has gathered about every `flushInterval`, in one call. A line
/// written `immediately` (warnings and errors) is written before the call returns, after every line before it, so
/// the order of lines is kept and nothing that matters waits. When `bufferLimit` bytes are waiting, the caller
/// writes them itself, which also holds callers back when the descriptor is slow to take them, as one `write(2)` per
/// line did. Whatever is buffered is written at normal process exit (`exit`, or returning from `main`); a process
/// killed outright loses at most the last `flushInterval` of `info` lines.
public final class StandardErrorLogSink: LogSink, @unchecked Sendable {
    // Sendable: `pending`, `flusherStarted` and `flusherRunning` are read and written only between
    // `pthread_mutex_lock(mutex)` and `pthread_mutex_unlock(mutex)`; the writer's state only inside `writeLock`,
    // which also keeps one writer at a time on the descriptor. Every other stored property is a `let` set in
    // `init`. The mutex and condition are allocated once and never freed: the shared sink lives as long as the
    // process, and the flusher thread holds the others.

    /// Standard error: the sink every log handler uses unless told otherwise.
    /// What it holds is written at normal process exit.
    public static let shared = StandardErrorLogSink(fileDescriptor: STDERR_FILENO)

    private let fileDescriptor: Int32
    private let flushInterval: Duration
    private let bufferLimit: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var pending: [UInt8] = []
    private var flusherStarted = false
    /// False when no flusher thread could be started: every caller then writes its own line.
    private var flusherRunning = true
    private let writeLock = Mutex(Writer())

    /// What only the writer holding `writeLock` touches.
    private struct Writer {
        /// The buffer swapped with `pending`, kept to reuse its capacity.
        var spare: [UInt8] = []
        /// The last write stopped inside a line (the descriptor would take nothing more): the next write starts with
        /// a newline, so the cut line does not run into the next one.
        var midLine = false
    }

    /// How long a write waits for a descriptor that takes nothing (a non-blocking pipe that is full) before the
    /// lines it holds are dropped.
    private static let stalledWriteTimeoutMilliseconds: Int32 = 1_000

    /// - Parameters:
    ///   - fileDescriptor: Where lines go; it is not closed by the sink.
    ///   - flushInterval: How long a line may wait to be written with the ones after it.
    ///   - bufferLimit: How many bytes may wait before the caller writes them itself.
    public init(
        fileDescriptor: Int32,
        flushInterval: Duration = .milliseconds(5),
        bufferLimit: Int = 256 * 1024
    ) {
        self.fileDescriptor = fileDescriptor
        self.flushInterval = flushInterval
        self.bufferLimit = bufferLimit
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    public func write(_ line: [UInt8], immediately: Bool) {
        pthread_mutex_lock(mutex)
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: line)
        let full = pending.count >= bufferLimit
        let startFlusher = !flusherStarted
        flusherStarted = true
        let noFlusher = !flusherRunning
        pthread_mutex_unlock(mutex)
        if startFlusher {
            startFlusherThread()
        } else if wasEmpty {
            // The flusher sleeps while nothing waits; the first line after a flush wakes it. (Signalling after the
            // unlock is safe: it checks `pending` under the mutex before it waits.)
            pthread_cond_signal(condition)
        }
        if immediately || full || noFlusher {
            flush()
        }
    }

    /// Writes every line waiting, before it returns.
    public func flush() {
        writeLock.withLock { writer in
            // Swapping under the write lock keeps the order: whoever takes lines out writes them before the next
            // taker can.
            pthread_mutex_lock(mutex)
            swap(&pending, &writer.spare)
            pthread_mutex_unlock(mutex)
            guard !writer.spare.isEmpty else { return }
            if writer.midLine {
                writer.midLine = !writeAll([UInt8(ascii: "\n")])
            }
            if !writer.midLine, !writeAll(writer.spare) {
                // Nowhere left to report a failure to log: the lines are dropped, and the next write starts afresh.
                writer.midLine = true
            }
            writer.spare.removeAll(keepingCapacity: writer.spare.capacity <= 4 * bufferLimit)
        }
    }

    /// Writes all of `bytes`, waiting while the descriptor is non-blocking and full (standard error shares its
    /// file with standard output when run as `2>&1` or on a terminal, and the stdio server makes that non-blocking).
    /// Returns false if it gave up: an error, or no progress for ``stalledWriteTimeoutMilliseconds``.
    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = writeToDescriptor(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written >= 0 {
                    offset += written
                    continue
                }
                switch errno {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    var waiting = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                    if poll(&waiting, 1, Self.stalledWriteTimeoutMilliseconds) == 0 { return false }
                default:
                    return false
                }
            }
            return true
        }
    }

    private func startFlusherThread() {
        if self === Self.shared {
            atexit { StandardErrorLogSink.shared.flush() }
        }
        let unmanaged = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let created = pthread_create(
            &thread,
            nil,
            { argument in
                let sink = Unmanaged<StandardErrorLogSink>.fromOpaque(argument!).takeRetainedValue()
                sink.runFlusher()
                return nil
            },
            unmanaged.toOpaque()
        )
        if created == 0 {
            pthread_detach(thread)
        } else {
            // No thread: every line is written by its caller instead.
            unmanaged.release()
            pthread_mutex_lock(mutex)
            flusherRunning = false
            pthread_mutex_unlock(mutex)
            flush()
        }
    }

    /// The flusher thread: sleeps until a line waits, lets lines gather for `flushInterval`, writes them; forever.
    private func runFlusher() {
        let nanoseconds = flushInterval.wholeNanoseconds
        var pause = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        while true {
            pthread_mutex_lock(mutex)
            while pending.isEmpty {
                pthread_cond_wait(condition, mutex)
            }
            pthread_mutex_unlock(mutex)
            var remaining = timespec()
            while nanosleep(&pause, &remaining) != 0 && errno == EINTR {
                pause = remaining
            }
            pause = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            flush()
        }
    }
}

/// `write(2)`, named apart from ``StandardErrorLogSink/write(_:immediately:)``.
private func writeToDescriptor(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, pointer, count)
}
