import Testing

@testable import Redis

@Suite struct RedisPoolStateMachineTests {
    typealias Machine = RedisPoolStateMachine<Int, String>

    @Test func reusesTheMostRecentlyReleasedConnection() {
        var machine = Machine(connections: [1, 2, 3])
        guard case .use(let first) = machine.acquire(), case .use(let second) = machine.acquire() else {
            Issue.record("expected free connections")
            return
        }
        #expect((first, second) == (3, 2))
        #expect(machine.inUse == 2)
        guard case .keep = machine.release(first) else {
            Issue.record("expected the connection to go back to the pool")
            return
        }
        guard case .use(let again) = machine.acquire() else {
            Issue.record("expected a free connection")
            return
        }
        #expect(again == first)
    }

    @Test func waitersAreServedFirstInFirstOut() {
        var machine = Machine(connections: [1])
        guard case .use(let connection) = machine.acquire() else {
            Issue.record("expected a free connection")
            return
        }
        guard case .wait = machine.acquire() else {
            Issue.record("expected to wait")
            return
        }
        guard case .queued = machine.enqueue(id: 1, waiter: "a"), case .queued = machine.enqueue(id: 2, waiter: "b")
        else {
            Issue.record("expected the waiters to be queued")
            return
        }
        #expect(machine.waitingCount == 2)
        guard case .handOver(let handed, to: let waiter) = machine.release(connection) else {
            Issue.record("expected a hand-over")
            return
        }
        #expect(handed == connection && waiter == "a")
        #expect(machine.inUse == 1 && machine.waitingCount == 1)
        // A newcomer must not overtake "b", even though nobody holds... nothing is free anyway.
        guard case .wait = machine.acquire() else {
            Issue.record("expected to wait")
            return
        }
    }

    @Test func enqueueUsesAConnectionReleasedMeanwhile() {
        var machine = Machine(connections: [1])
        guard case .use(let connection) = machine.acquire(), case .wait = machine.acquire() else {
            Issue.record("expected one use, then a wait")
            return
        }
        _ = machine.release(connection)
        guard case .use(1) = machine.enqueue(id: 7, waiter: "late") else {
            Issue.record("expected the released connection")
            return
        }
        #expect(machine.waitingCount == 0)
    }

    @Test func removedWaitersAreNotServed() {
        var machine = Machine(connections: [1])
        _ = machine.acquire()
        _ = machine.enqueue(id: 1, waiter: "timed out")
        _ = machine.enqueue(id: 2, waiter: "patient")
        #expect(machine.removeWaiter(id: 1) == "timed out")
        #expect(machine.removeWaiter(id: 1) == nil)
        guard case .handOver(_, to: "patient") = machine.release(1) else {
            Issue.record("expected the remaining waiter to be served")
            return
        }
    }

    @Test func shutdownFailsWaitersAndClosesConnections() {
        var machine = Machine(connections: [1, 2])
        _ = machine.acquire()
        _ = machine.acquire()
        _ = machine.enqueue(id: 1, waiter: "w")
        let action = machine.shutdown()
        #expect(action.waiters == ["w"])
        #expect(action.connections.isEmpty)
        guard case .close(2) = machine.release(2), case .fail = machine.acquire(),
            case .fail = machine.enqueue(id: 2, waiter: "x")
        else {
            Issue.record("expected a shut-down pool to close and refuse")
            return
        }
        #expect(machine.inUse == 1)
        #expect(machine.shutdown().waiters.isEmpty)
    }

    @Test func expiredWaitersLeaveFromTheFrontOnly() {
        var machine = Machine(connections: [1])
        _ = machine.acquire()
        for (id, name) in ["a1", "a2", "b3", "a4"].enumerated() {
            _ = machine.enqueue(id: id, waiter: name)
        }
        #expect(machine.removeLeadingWaiters { $0.hasPrefix("a") } == ["a1", "a2"])
        #expect(machine.firstWaiter == "b3")
        #expect(machine.waitingCount == 2, "a4 stays behind b3")
        #expect(machine.removeLeadingWaiters { _ in false }.isEmpty)
    }
}
