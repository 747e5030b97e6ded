import Synchronization

/// The number of open connections, and of connections ever opened, kept by the connections themselves so
/// statistics need no lock.
final class RedisConnectionCounter: Sendable {
    private let value = Atomic<Int>(0)
    private let opened = Atomic<Int>(0)

    /// Connections opened since the client started, reconnections included.
    var openedTotal: Int {
        self.opened.load(ordering: .relaxed)
    }

    var open: Int {
        self.value.load(ordering: .relaxed)
    }

    func increment() {
        self.opened.add(1, ordering: .relaxed)
        self.value.add(1, ordering: .relaxed)
    }

    func decrement() {
        self.value.subtract(1, ordering: .relaxed)
    }
}
