#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import JSONRPC
import Logging
import NIOCore
import NIOPosix
import Redis
import Testing

@testable import JulesCore

/// Writes whose comparison or outcome cannot be known while Redis is out of reach are refused, not written around
/// the cache: a compare-and-set against a PostgreSQL copy that may be behind the journal, and a write whose
/// connection closed after it was sent.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StateUncertainWriteTests {
    /// Redis acknowledges version 2 and becomes unreachable before the persister stores it: PostgreSQL still holds
    /// version 1, so a second writer comparing with it would also win against version 1.
    @Test func anExpectedVersionIsRefusedWhileRedisIsUnreachable() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let householdID = try #require(UUID(uuidString: household))
            let id = JSONValue.string(household)
            _ = try await harness.result("state.update", ["household_id": id, "state": ["turn": "first"]])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let won = try await harness.result(
                "state.update", ["household_id": id, "state": ["turn": "one"], "expected_version": 1])
            #expect(won["version"] == 2)

            let unreachable = RedisClient(
                configuration: try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock"),
                logger: Logger(label: "test"))
            let other = StateStore(database: harness.database, redis: unreachable, logger: Logger(label: "test"))
            await #expect(throws: StateStore.Failure.expectedVersionNeedsCache) {
                _ = try await other.update(householdID, .replace(["turn": "two"]), expected: 1)
            }
            await #expect(throws: StateStore.Failure.expectedVersionNeedsCache) {
                _ = try await other.update(householdID, .delete, expected: 1)
            }
            #expect(other.isBypassingCache)
            #expect(try await harness.storedState(household)?.version == 1, "nothing was written around the cache")
            let error = StateStore.Failure.expectedVersionNeedsCache.jsonRPCError
            #expect(error.type == "unavailable")
            #expect(error.message.contains("expected_version"))

            // Without an expected version the write goes to PostgreSQL, as any write does during an outage, past
            // whatever the journal holds: from then on PostgreSQL's version is the newest, and compare-and-set works.
            let version = try await other.update(householdID, .merge(["note": "around"]))
            #expect(version > 2)
            let next = try await other.update(householdID, .merge(["turn": "three"]), expected: version)
            #expect(next > version)
            await #expect(throws: StateStore.Failure.versionMismatch(current: next)) {
                _ = try await other.update(householdID, .merge(["turn": "late"]), expected: version)
            }
            await unreachable.shutdown()
        }
    }

    /// A Redis that takes the write and closes the connection without a reply: the write may have been applied,
    /// so it is not applied again in PostgreSQL, and the client hears that it may have taken effect.
    @Test func aWriteWhoseConnectionClosesAfterItWasSentIsNotWrittenAgainAroundTheCache() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let householdID = try #require(UUID(uuidString: household))
            _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 1]])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }

            let path = "/tmp/jules-test-\(UUID().uuidString.prefix(8)).sock"
            defer { unlink(path) }
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CloseOnFirstRead())
                    }
                }
                .bind(unixDomainSocketPath: path)
                .get()
            let redis = RedisClient(
                configuration: try RedisConfiguration(url: "unix://" + path), logger: Logger(label: "test"))
            let store = StateStore(database: harness.database, redis: redis, logger: Logger(label: "test"))

            // A replace and a delete go straight to the write (a merge reads first, and a read that fails is an
            // outage like any other).
            for change in [StateStore.Change.replace(["n": 3]), .delete] {
                await #expect(throws: StateStore.Failure.outcomeUnknown) {
                    _ = try await store.update(householdID, change)
                }
            }
            #expect(!store.isBypassingCache)
            #expect(try await harness.storedState(household)?.version == 1, "nothing was written around the cache")
            let error = StateStore.Failure.outcomeUnknown.jsonRPCError
            #expect(error.type == "unavailable")
            #expect(error.message.contains("may have taken effect"))
            await redis.shutdown()
            try await server.close()
        }
    }
}

/// A stand-in for a Redis server that dies with a command in hand: it closes each connection when its first bytes
/// arrive, without a reply.
private final class CloseOnFirstRead: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}
