import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
struct ErrorTests {
    @Test func constraintViolationsAreDistinguishable() async throws {
        let table = TestDatabase.uniqueName("constraints")
        let parent = TestDatabase.uniqueName("parent")
        try await TestDatabase.withClient { client in
            _ = try await client.query(
                """
                CREATE TABLE \(parent) (id int8 PRIMARY KEY);
                CREATE TABLE \(table) (
                    id int8 PRIMARY KEY,
                    email text NOT NULL CONSTRAINT \(table)_email_key UNIQUE,
                    age int4 CONSTRAINT \(table)_age_check CHECK (age >= 0),
                    parent int8 REFERENCES \(parent) (id)
                )
                """
            )
            _ = try await client.query("INSERT INTO \(table) (id, email) VALUES ($1, $2)", [1, "a@example.com"])

            let unique = await expectPostgresError {
                _ = try await client.query("INSERT INTO \(table) (id, email) VALUES ($1, $2)", [2, "a@example.com"])
            }
            #expect(unique?.code == .queryFailed)
            #expect(unique?.isUniqueViolation == true)
            #expect(unique?.constraint == "\(table)_email_key")
            #expect(unique?.table == table)
            #expect(unique?.description.contains("a@example.com") == false)
            #expect(unique?.description.contains("INSERT") == false)

            let check = await expectPostgresError {
                _ = try await client.query("INSERT INTO \(table) (id, email, age) VALUES ($1, $2, $3)", [3, "b", -1])
            }
            #expect(check?.isCheckViolation == true)
            #expect(check?.isUniqueViolation == false)
            #expect(check?.constraint == "\(table)_age_check")

            let notNull = await expectPostgresError {
                _ = try await client.query("INSERT INTO \(table) (id, email) VALUES ($1, $2)", [4, .null])
            }
            #expect(notNull?.isNotNullViolation == true)
            #expect(notNull?.column == "email")

            let foreignKey = await expectPostgresError {
                _ = try await client.query("INSERT INTO \(table) (id, email, parent) VALUES ($1, $2, $3)", [5, "c", 9])
            }
            #expect(foreignKey?.isForeignKeyViolation == true)

            _ = try await client.query("DROP TABLE \(table), \(parent)")
        }
    }

    @Test func serverErrorsCarrySQLStateButNoStatementText() async throws {
        try await TestDatabase.withClient { client in
            let syntax = await expectPostgresError { _ = try await client.query("SELEKT secret_column_name") }
            #expect(syntax?.code == .queryFailed)
            #expect(syntax?.sqlState == "42601")
            #expect(syntax?.description.contains("secret_column_name") == false)

            let badInput = await expectPostgresError { _ = try await client.query("SELECT $1::int", ["s3cret-value"]) }
            #expect(badInput?.sqlState == "22P02")
            #expect(badInput?.serverMessage?.contains("s3cret-value") == true)
            #expect(badInput?.description.contains("s3cret-value") == false)
            // The connection is still fine afterwards.
            let one = try await client.query("SELECT 1 AS one")[0].decode("one", as: Int.self)
            #expect(one == 1)
        }
    }

    @Test func serializationFailuresAreDistinguishable() async throws {
        let table = TestDatabase.uniqueName("ssi")
        try await TestDatabase.withClient { client in
            _ = try await client.query("CREATE TABLE \(table) (class int4 NOT NULL, value int4 NOT NULL)")
            _ = try await client.query("INSERT INTO \(table) VALUES (1, 10), (2, 20)")
            // Write skew: each transaction reads one class and writes the other. Both read before either writes, so
            // SERIALIZABLE must abort one of them.
            let barrier = Barrier(parties: 2)
            let outcomes = await withTaskGroup(of: (any Error)?.self) { group in
                for (read, write) in [(1, 2), (2, 1)] {
                    group.addTask {
                        do {
                            try await client.withTransaction { transaction in
                                _ = try await transaction.query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                                let sum = try await transaction.query(
                                    "SELECT sum(value)::int8 AS total FROM \(table) WHERE class = $1",
                                    [.int(Int64(read))]
                                )[0].decode("total", as: Int64.self)
                                await barrier.arriveAndWait()
                                _ = try await transaction.query(
                                    "INSERT INTO \(table) VALUES ($1, $2)",
                                    [.int(Int64(write)), .int(sum)]
                                )
                            }
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let failures = outcomes.compactMap { $0 as? PostgresError }
            #expect(failures.count == 1, "outcomes: \(outcomes)")
            #expect(failures.allSatisfy { $0.isSerializationFailure && $0.code == .queryFailed })
            _ = try await client.query("DROP TABLE \(table)")
        }
    }
}

/// Suspends callers until `parties` of them have arrived.
actor Barrier {
    private let parties: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(parties: Int) {
        self.parties = parties
    }

    func arriveAndWait() async {
        if self.waiting.count + 1 == self.parties {
            for continuation in self.waiting { continuation.resume() }
            self.waiting.removeAll()
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }
}

/// What a log line may show of a server message: nothing of the quoted values, however they are written.
@Suite struct RedactionTests {
    @Test(arguments: [
        // As PostgreSQL writes them: the value quoted as it is, without escaping.
        #"invalid input syntax for type uuid: "+15551234567""#,
        // A quote inside the value.
        #"invalid input syntax for type uuid: "a"+15551234567"b""#,
        // A combining mark right after the opening quote (one Character with it).
        "invalid input syntax for type uuid: \"\u{301}+15551234567\"",
        "invalid input syntax for type uuid: \"\u{FE0F}+15551234567\" at character 8",
        // An unterminated quote.
        #"invalid input syntax for type integer: "+15551234567"#,
    ])
    func quotedValuesNeverShow(_ message: String) {
        let redacted = Redaction.quotedFragments(in: message)
        #expect(!redacted.contains("5551234567"), "\(redacted)")
        #expect(redacted.hasPrefix("invalid input syntax for type "))
    }

    @Test func textOutsideTheQuotesIsKept() {
        #expect(Redaction.quotedFragments(in: "no quotes here") == "no quotes here")
        #expect(
            Redaction.quotedFragments(in: #"duplicate key value violates unique constraint "users_email_key""#)
                == #"duplicate key value violates unique constraint "…""#)
        #expect(
            Redaction.quotedFragments(in: #"value "x" out of range for type "y" here"#)
                == #"value "…" here"#)
    }
}
