import Testing

@testable import Redis

@Suite struct RedisConfigurationTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var url: String
        var endpoint: RedisConfiguration.Endpoint
        var database: Int
        var username: String?
        var password: String?
        var testDescription: String { self.url }
    }

    static let valid: [Valid] = [
        Valid(url: "redis://localhost:6379/0", endpoint: .tcp(host: "localhost", port: 6379), database: 0),
        Valid(url: "redis://127.0.0.1", endpoint: .tcp(host: "127.0.0.1", port: 6379), database: 0),
        Valid(url: "redis://cache.internal:7000/", endpoint: .tcp(host: "cache.internal", port: 7000), database: 0),
        Valid(url: "REDIS://h:1/15", endpoint: .tcp(host: "h", port: 1), database: 15),
        Valid(url: "redis://[::1]:6380/2", endpoint: .tcp(host: "::1", port: 6380), database: 2),
        Valid(
            url: "redis://:s3cret@h:6379/3",
            endpoint: .tcp(host: "h", port: 6379),
            database: 3,
            password: "s3cret"
        ),
        Valid(
            url: "redis://app:p%40ss%3Aw0rd@h:6379/0",
            endpoint: .tcp(host: "h", port: 6379),
            database: 0,
            username: "app",
            password: "p@ss:w0rd"
        ),
        Valid(url: "redis://:a@b@h:1/0", endpoint: .tcp(host: "h", port: 1), database: 0, password: "a@b"),
        Valid(url: "unix:///tmp/redis.sock", endpoint: .unixSocket(path: "/tmp/redis.sock"), database: 0),
        Valid(url: "unix:///var/run/r.sock?db=4", endpoint: .unixSocket(path: "/var/run/r.sock"), database: 4),
        Valid(
            url: "unix://:pw@/var/run/r.sock?db=1",
            endpoint: .unixSocket(path: "/var/run/r.sock"),
            database: 1,
            password: "pw"
        ),
    ]

    @Test(arguments: valid)
    func parsesValidURL(_ example: Valid) throws {
        let configuration = try RedisConfiguration(url: example.url)
        #expect(configuration.endpoint == example.endpoint)
        #expect(configuration.database == example.database)
        #expect(configuration.username == example.username)
        #expect(configuration.password == example.password)
    }

    @Test func defaults() throws {
        let configuration = try RedisConfiguration(url: "redis://h")
        #expect(configuration.poolSize == 10)
        #expect(configuration.connectTimeout == .seconds(2))
        #expect(configuration.commandTimeout == .seconds(2))
        #expect(configuration.acquireTimeout == .seconds(5))
    }

    /// Each invalid URL, with a phrase its error must contain. All carry the password "hunter2" where the
    /// form allows, and no message may show it.
    @Test(arguments: [
        ("http://:hunter2@h:6379/0", "unsupported scheme 'http'"),
        ("localhost:6379", "expected a URL starting with redis:// or unix://"),
        ("hunter2", "expected a URL starting with redis:// or unix://"),
        ("redis://:hunter2@h:abc/0", "port must be a number"),
        ("redis://:hunter2@h:0/0", "port must be a number"),
        ("redis://:hunter2@h:65536/0", "port must be a number"),
        ("redis://:hunter2@h:/0", "port must be a number"),
        ("redis://hunter2:h/0", "port must be a number"),
        ("redis://:hunter2@h:6379/16", "database 16 is out of range 0...15"),
        ("redis://:hunter2@h:6379/-1", "the database must be a number"),
        ("redis://:hunter2@h:6379/db", "the database must be a number"),
        ("redis://:hunter2@:6379/0", "has no host"),
        ("redis://", "has no host"),
        ("redis://hunter2@h:6379/0", "credentials must be written"),
        ("redis://:hunter2%zz@h/0", "invalid percent-escape"),
        ("redis://h:6379/0?db=1", "take no query parameters"),
        ("redis://[::1:6379/0", "closing bracket"),
        ("unix://", "empty socket path"),
        ("unix://?db=1", "empty socket path"),
        ("unix://relative/redis.sock", "absolute socket path"),
        ("unix:///tmp/r.sock?db=99", "database 99 is out of range"),
        ("unix:///tmp/r.sock?password=hunter2", "only the query parameter db=N"),
        ("unix:///" + String(repeating: "a", count: 120), "longer than 107 bytes"),
    ])
    func rejectsInvalidURL(_ url: String, _ expected: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            guard let error = error as? RedisError else {
                return false
            }
            return error.code == .invalidConfiguration && error.description.contains(expected)
                && !error.description.contains("hunter2")
        }
    }

    @Test func redactedDescriptionHidesThePassword() throws {
        var configuration = try RedisConfiguration(url: "redis://app:hunter2@cache:6380/2")
        #expect(configuration.redactedDescription == "redis://app:***@cache:6380/2")
        #expect("\(configuration)" == "redis://app:***@cache:6380/2")
        #expect(!String(reflecting: configuration).contains("hunter2"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("hunter2"))

        configuration = try RedisConfiguration(url: "unix://:hunter2@/tmp/r.sock?db=3")
        #expect(configuration.redactedDescription == "unix://:***@/tmp/r.sock?db=3")
        #expect(try RedisConfiguration(url: "redis://[::1]").redactedDescription == "redis://[::1]:6379/0")
    }
}
