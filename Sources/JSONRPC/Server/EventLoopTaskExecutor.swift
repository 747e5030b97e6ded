import NIOCore

/// Runs Swift tasks on one SwiftNIO event loop.
///
/// A connection's tasks prefer the event loop of its channel: reading a frame, running a quick handler and writing
/// its response then happen on one thread, without waking a thread of the cooperative pool and coming back for
/// every request. Handlers must not block (rule 1 of DESIGN.md: blocking calls go to a thread pool and are
/// awaited), which is what keeps this safe for the other connections of the loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
