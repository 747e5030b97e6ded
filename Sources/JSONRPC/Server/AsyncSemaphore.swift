import NIOConcurrencyHelpers

/// Counts free slots; `wait()` suspends while none is free. Used to bound the requests in flight on a connection,
/// so a client that pipelines faster than the server answers is slowed by TCP-style backpressure, not refused.
final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID = 0
    }

    private let state: NIOLockedValueBox<State>

    init(value: Int) {
        precondition(value > 0)
        state = NIOLockedValueBox(State(available: value))
    }

    /// Takes a slot, waiting for one if needed.
    /// - Throws: `CancellationError` if the task is cancelled while waiting.
    func wait() async throws {
        let acquired = state.withLockedValue { state in
            guard state.available > 0 else { return false }
            state.available -= 1
            return true
        }
        if acquired { return }
        let id = state.withLockedValue { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let resumeNow: Bool? = state.withLockedValue { state in
                    if Task.isCancelled { return false }
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                switch resumeNow {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let continuation = state.withLockedValue { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Frees a slot, handing it to the oldest waiter if there is one.
    func signal() {
        let waiter = state.withLockedValue { state in
            if state.waiters.isEmpty {
                state.available += 1
                return nil as CheckedContinuation<Void, any Error>?
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume()
    }
}
