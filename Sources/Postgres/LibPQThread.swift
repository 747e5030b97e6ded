import NIOConcurrencyHelpers
import NIOPosix

/// Proof that libpq runs only on the client's `NIOThreadPool` (DESIGN rule 1).
///
/// ``PostgresClient`` runs every libpq job through ``run(_:)``, which executes only inside
/// `NIOThreadPool.runIfActive` and marks its thread; every `PostgresConnection` entry point calls ``check()``. A call
/// from anywhere else (an event loop, the cooperative pool) is counted in ``violations``, which the tests require to
/// stay 0.
enum LibPQThread {
    private final class Marker: Sendable {}

    private static let marker = ThreadSpecificVariable<Marker>()
    private static let violationCount = NIOLockedValueBox(0)

    /// How many libpq calls happened off the thread pool since the process started.
    static var violations: Int { self.violationCount.withLockedValue { $0 } }

    /// Whether the current thread has run a libpq job (i.e. is one of a client's thread-pool threads).
    static var isCurrentThreadMarked: Bool { self.marker.currentValue != nil }

    /// Marks the thread (once; thread-specific storage is cheap to read) and runs the job.
    static func run<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        if self.marker.currentValue == nil {
            self.marker.currentValue = Marker()
        }
        return try body()
    }

    static func check() {
        if self.marker.currentValue == nil {
            self.violationCount.withLockedValue { $0 += 1 }
        }
    }
}
