import Testing

@testable import Redis

@Suite struct RedisReplyTests {
    @Test func helpers() {
        #expect(RedisReply.string(Array("héllo".utf8)).stringValue == "héllo")
        #expect(RedisReply.string([0xFF, 0xFE]).stringValue == nil)
        #expect(RedisReply.status("OK").stringValue == "OK")
        #expect(RedisReply.integer(42).intValue == 42)
        #expect(RedisReply.string(Array("-17".utf8)).intValue == -17)
        #expect(RedisReply.string([0, 1]).bytes == [0, 1])
        #expect(RedisReply.array([.null]).arrayValue == [.null])
        #expect(RedisReply.null.isNull)
        #expect(RedisReply.integer(1).stringValue == nil)
    }

    @Test func arguments() {
        #expect(RedisArgument(42).bytes == Array("42".utf8))
        #expect(RedisArgument(-7).bytes == Array("-7".utf8))
        #expect(("GET" as RedisArgument).bytes == Array("GET".utf8))
        #expect(RedisArgument([0, 255]).bytes == [0, 255])
    }

    @Test func errorDescriptionLeavesOutEchoedArguments() {
        let error = RedisError(
            .server,
            message: "the server replied with an error",
            serverMessage: "ERR unknown command 'FOO', with args beginning with: 'alice@example.com' "
        )
        #expect(error.description.contains("ERR unknown command 'FOO'"))
        #expect(!error.description.contains("alice"))
        #expect(error.serverErrorCode == "ERR")
        let long = RedisError(.server, message: "m", serverMessage: String(repeating: "x", count: 1000))
        #expect(long.description.count < 300)
        #expect(RedisError.Code.poolTimeout.description == "poolTimeout")
    }
}
