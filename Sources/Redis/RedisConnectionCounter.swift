import Synchronization

/// The number of open connections, kept by the connections themselves so statistics need no lock.
final class RedisConnectionCounter: Sendable {
    private let value = Atomic<Int>(0)

    var open: Int {
        self.value.load(ordering: .relaxed)
    }

    func increment() {
        self.value.add(1, ordering: .relaxed)
    }

    func decrement() {
        self.value.subtract(1, ordering: .relaxed)
    }
}
