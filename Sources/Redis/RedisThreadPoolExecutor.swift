import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A task executor that runs jobs on the client's `NIOThreadPool`.
///
/// A task that prefers it runs on a thread where blocking is allowed, so the client can call hiredis directly
/// instead of hopping to the thread pool and back (two thread wake-ups per command).
final class RedisThreadPoolExecutor: TaskExecutor {
    /// Marks the threads that are running one of this executor's jobs, with the executor's address.
    private static let runningKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left for the Redis client")
        return key
    }()

    private let threadPool: NIOThreadPool

    init(threadPool: NIOThreadPool) {
        self.threadPool = threadPool
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.threadPool.submit { state in
            guard case .active = state else {
                // The client was shut down: a job must still run exactly once, or its task would never finish.
                // Hand it to the global executor; it will find the pool shut down and fail with `.shutDown`.
                globalConcurrentExecutor.enqueue(ExecutorJob(job))
                return
            }
            let marker = Unmanaged.passUnretained(self).toOpaque()
            pthread_setspecific(Self.runningKey, marker)
            job.runSynchronously(on: self.asUnownedTaskExecutor())
            pthread_setspecific(Self.runningKey, nil)
        }
    }

    /// Whether the calling code runs on one of this executor's threads, inside one of its jobs: then it may block.
    ///
    /// This checks the thread itself, not the task's preference, so it stays right whatever isolation rules put
    /// the caller elsewhere. The answer holds until the caller's next suspension point.
    var isCurrentThread: Bool {
        // Typed as an Optional: the function returns an implicitly unwrapped pointer, which is nil on other threads.
        let marker: UnsafeMutableRawPointer? = pthread_getspecific(Self.runningKey)
        return marker == Unmanaged.passUnretained(self).toOpaque()
    }
}
