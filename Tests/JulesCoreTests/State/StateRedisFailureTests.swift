import JSONRPC
import Redis
import Testing

@testable import JulesCore

/// Which Redis failures send the state store around the cache, and what a client is told of the others.
@Suite struct StateRedisFailureTests {
    @Test func onlyALostConnectionMeansRedisIsUnreachable() {
        #expect(RedisError(.connectionFailed, message: "refused").meansUnreachable)
        #expect(RedisError(.connectionClosed, message: "closed").meansUnreachable)
        #expect(RedisError(.server, message: "loading", serverMessage: "LOADING Redis is loading").meansUnreachable)
        // A timeout may hide a write Redis applied; it is not an outage to write around.
        #expect(!RedisError(.timeout, message: "slow").meansUnreachable)
        #expect(!RedisError(.poolTimeout, message: "busy").meansUnreachable)
        #expect(!RedisError(.server, message: "oops", serverMessage: "ERR oops").meansUnreachable)
    }

    @Test func clientsAreToldATimeoutMayHaveTakenEffect() {
        let timeout = RedisError(.timeout, message: "slow").jsonRPCError
        #expect(timeout.type == "unavailable")
        #expect(timeout.message.contains("may have taken effect"))
        #expect(RedisError(.connectionClosed, message: "closed").jsonRPCError.type == "unavailable")
        #expect(RedisError(.server, message: "oops", serverMessage: "ERR oops").jsonRPCError == .internalError)
    }
}
