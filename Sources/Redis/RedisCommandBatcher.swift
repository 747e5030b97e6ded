import Logging
import NIOPosix
import Synchronization

/// Sends the simple commands that arrive together as one pipeline, on one connection, from one client thread.
///
/// Each command sent alone costs two thread hand-overs and a round trip; under load, the wake-ups dominate. Here
/// callers only queue their command; the first one to find no flush running starts one on the thread pool, which
/// sends everything queued (up to ``maximumBatch`` at a time) in one write, reads the replies and resumes each
/// caller, and goes on until the queue is empty. Commands queued during a flush go out in the next round trip.
///
/// Only commands that answer at once belong here: a blocking command (`BLPOP`, `XREADGROUP … BLOCK`) would hold up
/// every command queued behind it.
final class RedisCommandBatcher: Sendable {
    typealias Continuation = UnsafeContinuation<Result<RedisReply, RedisError>, Never>

    private struct Pending {
        var arguments: [RedisArgument]
        var continuation: Continuation
    }

    private struct State {
        var queue: [Pending] = []
        var flushing = false
    }

    static let maximumBatch = 256

    private let state = Mutex(State())
    /// Used only by the one flush that runs at a time (``State/flushing`` guards it).
    private let connection: RedisConnection
    private let threadPool: NIOThreadPool
    private let configuration: RedisConfiguration
    private let logger: Logger

    init(
        connection: RedisConnection,
        threadPool: NIOThreadPool,
        configuration: RedisConfiguration,
        logger: Logger
    ) {
        self.connection = connection
        self.threadPool = threadPool
        self.configuration = configuration
        self.logger = logger
    }

    func send(_ arguments: [RedisArgument]) async -> Result<RedisReply, RedisError> {
        await withUnsafeContinuation { (continuation: Continuation) in
            let startFlush = self.state.withLock { state in
                state.queue.append(Pending(arguments: arguments, continuation: continuation))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if startFlush {
                self.threadPool.submit { poolState in self.flush(active: poolState == .active) }
            }
        }
    }

    /// Runs on the thread pool: sends the queue in batches until it is empty. Every queued caller is resumed
    /// exactly once, by this loop.
    private func flush(active: Bool) {
        while true {
            let batch = self.state.withLock { state -> [Pending] in
                let count = min(state.queue.count, Self.maximumBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let results: [Result<RedisReply, RedisError>]
            if active {
                do {
                    try self.connection.prepare(configuration: self.configuration, logger: self.logger)
                    results = try self.connection.executePipeline(batch.map(\.arguments))
                } catch {
                    results = Array(repeating: .failure(error), count: batch.count)
                }
            } else {
                results = Array(
                    repeating: .failure(RedisError(.shutDown, message: "the Redis client was shut down")),
                    count: batch.count
                )
            }
            for (pending, result) in zip(batch, results) {
                pending.continuation.resume(returning: result)
            }
        }
    }

    /// Closes the connection; called on the thread pool at shutdown, when no flush can start any more.
    func close() {
        self.connection.close()
    }
}
