import Testing

@testable import Postgres

@Suite struct PoolStateMachineTests {
    typealias Machine = PoolStateMachine<String, String>

    @Test func createsUpToMaxSizeThenWaits() {
        var machine = Machine(maxSize: 2)
        #expect(machine.acquire().isCreate)
        #expect(machine.acquire().isCreate)
        #expect(machine.acquire().isWait)
        #expect(machine.statistics == PostgresPoolStatistics(size: 2, open: 2, inUse: 2, idle: 0, waiting: 0))
    }

    @Test func reusesTheMostRecentlyReleasedConnection() {
        var machine = Machine(maxSize: 3)
        _ = machine.acquire()
        _ = machine.acquire()
        #expect(machine.release("a", reusable: true).isNone)
        #expect(machine.release("b", reusable: true).isNone)
        #expect(machine.acquire().usedConnection == "b")
        #expect(machine.statistics == PostgresPoolStatistics(size: 3, open: 2, inUse: 1, idle: 1, waiting: 0))
    }

    @Test func handsReleasedConnectionsToWaitersInOrder() {
        var machine = Machine(maxSize: 1)
        _ = machine.acquire()
        #expect(machine.acquire(waiter: (1, "first")).isWait)
        #expect(machine.acquire(waiter: (2, "second")).isWait)
        #expect(machine.statistics.waiting == 2)
        guard case .handOver("a", "first") = machine.release("a", reusable: true) else {
            Issue.record("expected a hand-over to the first waiter")
            return
        }
        guard case .create(for: "second") = machine.release("a", reusable: false) else {
            Issue.record("a broken connection's slot goes to the next waiter as a new connection")
            return
        }
        #expect(machine.statistics == PostgresPoolStatistics(size: 1, open: 1, inUse: 1, idle: 0, waiting: 0))
    }

    @Test func newCallersDoNotOvertakeWaiters() {
        var machine = Machine(maxSize: 2)
        _ = machine.acquire()
        _ = machine.acquire()
        _ = machine.acquire(waiter: (1, "waiting"))
        #expect(machine.removeWaiter(id: 1) == "waiting")
        #expect(machine.removeWaiter(id: 1) == nil)
        _ = machine.acquire(waiter: (2, "waiting"))
        // A slot frees up while someone waits: it goes to the waiter, not to a caller arriving later.
        guard case .handOver = machine.release("a", reusable: true) else {
            Issue.record("expected a hand-over")
            return
        }
        #expect(machine.acquire().isWait)
    }

    @Test func brokenConnectionsFreeTheirSlot() {
        var machine = Machine(maxSize: 1)
        _ = machine.acquire()
        #expect(machine.release("a", reusable: false).isNone)
        #expect(machine.statistics.open == 0)
        #expect(machine.acquire().isCreate)
    }

    @Test func shutdownFailsWaitersAndClosesEverything() {
        var machine = Machine(maxSize: 2)
        _ = machine.acquire()
        _ = machine.acquire()
        _ = machine.release("idle", reusable: true)
        _ = machine.acquire()
        _ = machine.acquire(waiter: (7, "waiter"))
        let result = machine.shutdown()
        #expect(result?.idle == [])
        #expect(result?.waiters == ["waiter"])
        #expect(machine.shutdown() == nil)
        #expect(machine.acquire().isShutDown)
        #expect(!machine.isDrained)
        guard case .close("idle") = machine.release("idle", reusable: true) else {
            Issue.record("expected a close")
            return
        }
        guard case .close("busy") = machine.release("busy", reusable: true) else {
            Issue.record("expected a close")
            return
        }
        #expect(machine.isDrained)
    }

    @Test func adoptsOnlyWhatFits() {
        var machine = Machine(maxSize: 1)
        #expect(machine.adopt("start-up")?.isNone == true)
        #expect(machine.adopt("extra") == nil)
        #expect(machine.acquire().usedConnection == "start-up")
    }
}

extension PoolStateMachine.AcquireAction {
    var isCreate: Bool { if case .create = self { true } else { false } }
    var isWait: Bool { if case .wait = self { true } else { false } }
    var isShutDown: Bool { if case .shutDown = self { true } else { false } }
    var usedConnection: Connection? { if case .use(let connection) = self { connection } else { nil } }
}

extension PoolStateMachine.ReleaseAction {
    var isNone: Bool { if case .none = self { true } else { false } }
}

extension PoolStateMachineTests {
    @Test func expiredWaitersLeaveFromTheFrontOnly() {
        var machine = Machine(maxSize: 1)
        _ = machine.acquire()
        for (id, name) in ["a1", "a2", "b3", "a4"].enumerated() {
            #expect(machine.acquire(waiter: (id, name)).isWait)
        }
        #expect(machine.removeLeadingWaiters { $0.hasPrefix("a") } == ["a1", "a2"])
        #expect(machine.firstWaiter == "b3")
        #expect(machine.statistics.waiting == 2, "a4 stays behind b3")
    }
}
