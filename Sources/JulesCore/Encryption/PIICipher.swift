import JSONRPC
import JulesSecurity

/// Seals personal data (names, phone numbers) into Fernet tokens and indexes phone numbers for lookups.
///
/// Tokens are made with the key ring's newest key and opened with any of its keys; the blind index key is separate
/// and never rotates, because every stored index would change with it.
public struct PIICipher: Sendable {
    /// The keys that encrypt (the first) and decrypt (all of them).
    public let keyRing: FernetKeyRing
    /// The keyed index of E.164 phone numbers.
    public let blindIndex: BlindIndex

    public init(keyRing: FernetKeyRing, blindIndex: BlindIndex) {
        self.keyRing = keyRing
        self.blindIndex = blindIndex
    }

    /// The fingerprint of the key new tokens are made with; stored beside each row's tokens.
    public var currentKeyID: String { keyRing.keys[0].fingerprint }

    /// Whether the key with this fingerprint is one of the ring's.
    public func hasKey(withID keyID: String) -> Bool {
        keyRing.keys.contains { $0.fingerprint == keyID }
    }

    /// Encrypts `text` with the newest key.
    public func seal(_ text: String) -> String {
        keyRing.encrypt(Array(text.utf8))
    }

    /// Decrypts a token made by ``seal(_:)`` with any key of the ring.
    /// - Throws: ``StoredDataError`` when no key opens the token or it does not hold UTF-8 text: the data or the
    ///   configuration is wrong, and the client can do nothing about it.
    public func open(_ token: String) throws(StoredDataError) -> String {
        let plaintext: [UInt8]
        do {
            plaintext = try keyRing.decrypt(token)
        } catch {
            throw StoredDataError(reason: "a stored token cannot be decrypted with the configured keys: \(error.code)")
        }
        guard let text = String(validating: plaintext, as: UTF8.self) else {
            throw StoredDataError(reason: "a stored token does not hold UTF-8 text")
        }
        return text
    }

    /// The blind index of a phone number: the same for every way of writing the number.
    public func index(_ phone: PhoneNumber) -> String {
        blindIndex.index(phone.e164)
    }
}

/// Stored data that the service cannot read back, such as a token made with a key that is no longer configured.
///
/// Reported to clients as an internal error, so nothing of it leaves the process; the description (which names no
/// value) goes to the log.
public struct StoredDataError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
