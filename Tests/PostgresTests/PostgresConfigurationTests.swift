import Testing

@testable import Postgres

@Suite struct PostgresConfigurationTests {
    @Test func parsesAUnixSocketURL() throws {
        let configuration = try PostgresConfiguration(
            connectionString: "postgresql://jules@/jules?host=/tmp/x/postgres&port=5432"
        )
        #expect(configuration.redactedDescription == "host=/tmp/x/postgres port=5432 dbname=jules user=jules")
        #expect(configuration.poolSize == 10)
        #expect(configuration.connectTimeout == .seconds(5))
        #expect(configuration.statementTimeout == .seconds(30))
        #expect(configuration.acquireTimeout == .seconds(5))
        #expect(configuration.applicationName == "jules")
    }

    @Test func parsesKeyValueConninfo() throws {
        let configuration = try PostgresConfiguration(
            connectionString: "host=/tmp/y dbname=app user=me connect_timeout=7 application_name=worker"
        )
        #expect(configuration.redactedDescription == "host=/tmp/y dbname=app user=me")
        #expect(configuration.connectTimeout == .seconds(7))
        #expect(configuration.applicationName == "worker")
    }

    @Test func neverShowsThePassword() throws {
        let configuration = try PostgresConfiguration(
            connectionString: "postgres://jules:hunter2secret@localhost:5433/jules"
        )
        #expect(configuration.redactedDescription == "host=localhost port=5433 dbname=jules user=jules")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [configuration.description, String(reflecting: configuration), "\(configuration)", dumped] {
            #expect(!text.contains("hunter2secret"))
        }
    }

    @Test(arguments: [
        "postgresql://jules:s3cr%zzet@/jules",
        "postgresql://jules:s3cret@[::1/db",
        "host=x password='s3cret",
        "postgresql://jules:s3cret@/jules?bogus=s3cret",
        // libpq would read the first as host "jules", port "s3cr", and the second's host as "et@db".
        "postgresql://jules:s3cr/et@db/jules",
        "postgresql://jules:s3cr@et@db/jules",
        "POSTGRES://jules:s3cr@et@db/jules",
    ])
    func rejectsBadStringsWithoutLeakingThem(connectionString: String) {
        #expect {
            try PostgresConfiguration(connectionString: connectionString)
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.code == .invalidConfiguration && !error.description.contains("s3cr")
        }
    }

    @Test func encodedCredentialsAndSlashesInTheQueryAreAccepted() throws {
        let encoded = try PostgresConfiguration(connectionString: "postgresql://jules:s3cr%2Fet%40x@db/jules")
        #expect(encoded.redactedDescription == "host=db dbname=jules user=jules")
        let socket = try PostgresConfiguration(connectionString: "postgresql://jules:pw@/jules?host=/tmp/x@y&port=5")
        #expect(socket.redactedDescription == "host=/tmp/x@y port=5 dbname=jules user=jules")
    }

    @Test func appliesSettingsPerConnection() throws {
        var configuration = try PostgresConfiguration(
            connectionString: "postgresql://u:pw@/db?host=/tmp/z&options=-c%20work_mem%3D8MB"
        )
        configuration.statementTimeout = .milliseconds(1500)
        configuration.connectTimeout = .milliseconds(2500)
        let parameters = Dictionary(configuration.connectionParameters().map { ($0.keyword, $0.value) }) { $1 }
        #expect(parameters["options"]?.hasPrefix("-c work_mem=8MB ") == true)
        #expect(parameters["options"]?.contains("-c statement_timeout=1500") == true)
        #expect(parameters["connect_timeout"] == "3")
        #expect(parameters["application_name"] == "jules")
        #expect(parameters["password"] == "pw")
        configuration.statementTimeout = nil
        let withoutTimeout = configuration.connectionParameters().first { $0.keyword == "options" }?.value ?? ""
        #expect(!withoutTimeout.contains("statement_timeout"))
    }

    @Test func errorDescriptionsRedactQuotedValues() {
        let error = PostgresError(
            code: .queryFailed,
            message: "the server rejected the statement",
            sqlState: "22P02",
            serverMessage: "invalid input syntax for type integer: \"secret value\""
        )
        #expect(error.description.contains("22P02"))
        #expect(!error.description.contains("secret value"))
        #expect(error.serverMessage?.contains("secret value") == true)
    }
}
