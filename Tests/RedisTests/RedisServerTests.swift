import Testing

/// The tests that talk to a real Redis. Serialized, because one of them restarts the server and another runs
/// `SCRIPT FLUSH`: neither may pull the server away from a test running beside it.
@Suite(
    .serialized,
    .enabled(if: RedisTestServer.isConfigured, "set JULES_TEST_REDIS_URL to a Redis server to run these tests")
)
struct RedisServerTests {}
