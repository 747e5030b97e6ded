import Foundation
import Postgres

/// A member as the API returns it: the name in the clear, the phone number masked (`+1******1234`).
public struct Member: Encodable, Sendable, Equatable {
    /// Why a listed member's name and number are missing although the member is not erased.
    public struct Unreadable: Encodable, Sendable, Equatable {
        public enum Reason: String, Encodable, Sendable {
            /// The key that made the tokens (``Unreadable/keyID``) is not in `JULES_ENCRYPTION_KEYS`: it was removed
            /// before the row was re-encrypted. Adding it back makes the member readable again.
            case keyNotConfigured = "key_not_configured"
            /// The key is configured but the tokens do not open with it, or do not hold a name and an E.164 number:
            /// the stored data was altered.
            case undecryptable

            /// Why tokens that `cipher` cannot open are unreadable, from the key the row says made them.
            init(keyID: String?, cipher: PIICipher) {
                self = keyID.map { !cipher.hasKey(withID: $0) } ?? false ? .keyNotConfigured : .undecryptable
            }
        }

        public var reason: Reason
        /// The fingerprint of the key the row says made its tokens.
        public var keyID: String?

        enum CodingKeys: String, CodingKey {
            case reason
            case keyID = "key_id"
        }
    }

    /// Lowercase, as PostgreSQL writes UUIDs.
    public var id: String
    public var householdID: String
    /// The display name; `nil` once the member is erased.
    public var name: String?
    /// The phone number, masked; `nil` once the member is erased.
    public var phone: String?
    /// The phone number in E.164 form, only when the caller asked to reveal it.
    public var phoneE164: String?
    public var optInState: OptInState
    public var createdAt: String
    public var updatedAt: String
    public var deletedAt: String?
    public var erasedAt: String?
    /// Present only when the name and number could not be decrypted (see ``Members/answer(_:revealPhone:logger:)``).
    public var unreadable: Unreadable?

    enum CodingKeys: String, CodingKey {
        case id
        case householdID = "household_id"
        case name, phone
        case phoneE164 = "phone_e164"
        case optInState = "opt_in_state"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case deletedAt = "deleted_at"
        case erasedAt = "erased_at"
        case unreadable
    }
}

/// A member row as stored: tokens instead of the name and number.
struct MemberRecord: Sendable {
    var id: UUID
    var householdID: UUID
    var nameToken: String?
    var phoneToken: String?
    /// The fingerprint of the key that made the tokens; `nil` once erased.
    var keyID: String?
    var optInState: OptInState
    var createdAt: String
    var updatedAt: String
    var deletedAt: String?
    var erasedAt: String?

    /// The columns ``init(row:)`` reads, for a `SELECT` or `RETURNING` list (unqualified: use no alias that hides
    /// `members`).
    static let columns = """
        id, household_id, name_ciphertext, phone_ciphertext, encryption_key_id, opt_in_state, \
        jules_rfc3339(created_at) AS created_at, jules_rfc3339(updated_at) AS updated_at, \
        jules_rfc3339(deleted_at) AS deleted_at, jules_rfc3339(erased_at) AS erased_at
        """

    init(row: PostgresRow) throws(PostgresError) {
        id = try row.decode("id")
        householdID = try row.decode("household_id")
        nameToken = try row.decode("name_ciphertext")
        phoneToken = try row.decode("phone_ciphertext")
        keyID = try row.decode("encryption_key_id")
        let state: String = try row.decode("opt_in_state")
        guard let optInState = OptInState(rawValue: state) else {
            throw PostgresError(code: .decodingFailed, message: "unknown opt_in_state in members")
        }
        self.optInState = optInState
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        deletedAt = try row.decode("deleted_at")
        erasedAt = try row.decode("erased_at")
    }

    /// The member with the name and number decrypted; the number masked unless `revealPhone`.
    func opened(with cipher: PIICipher, revealPhone: Bool = false) throws -> Member {
        var phone: PhoneNumber?
        if let phoneToken {
            let e164 = try cipher.open(phoneToken)
            do {
                phone = try PhoneNumber(parsing: e164)
            } catch {
                throw StoredDataError(reason: "a stored phone number is not in E.164 form")
            }
        }
        return Member(
            id: id.lowercasedText,
            householdID: householdID.lowercasedText,
            name: try nameToken.map { token throws(StoredDataError) in try cipher.open(token) },
            phone: phone?.masked,
            phoneE164: revealPhone ? phone?.e164 : nil,
            optInState: optInState,
            createdAt: createdAt,
            updatedAt: updatedAt,
            deletedAt: deletedAt,
            erasedAt: erasedAt
        )
    }

    /// The member without name and number, marked with why they cannot be read; what is not encrypted is kept.
    func unreadable(with cipher: PIICipher) -> Member {
        let reason = Member.Unreadable.Reason(keyID: keyID, cipher: cipher)
        return Member(
            id: id.lowercasedText,
            householdID: householdID.lowercasedText,
            optInState: optInState,
            createdAt: createdAt,
            updatedAt: updatedAt,
            deletedAt: deletedAt,
            erasedAt: erasedAt,
            unreadable: Member.Unreadable(reason: reason, keyID: keyID)
        )
    }
}
