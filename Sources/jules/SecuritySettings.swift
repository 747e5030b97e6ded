#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser
import Foundation
import JulesCore
import JulesSecurity

/// The keys that protect personal data, and the default phone region, from the environment.
///
/// There is no plaintext mode: without an encryption key and a blind index key nothing that stores a name or a
/// number can start. Each key may come from its variable or from a file named by `<variable>_FILE` (not both).
struct SecuritySettings {
    var cipher: PIICipher
    var defaultRegion: Region

    init() throws {
        let keysText = try Self.secret("JULES_ENCRYPTION_KEYS", what: "one or more Fernet keys, newest first")
        let indexText = try Self.secret("JULES_BLIND_INDEX_KEY", what: "a blind index key")
        let keyRing: FernetKeyRing
        do {
            keyRing = try FernetKeyRing(environmentValue: keysText)
        } catch {
            throw ValidationError("JULES_ENCRYPTION_KEYS is not usable: \(error.message)")
        }
        let blindIndex: BlindIndex
        do {
            blindIndex = try BlindIndex(base64URL: indexText)
        } catch {
            throw ValidationError("JULES_BLIND_INDEX_KEY is not usable: \(error.message)")
        }
        guard !blindIndex.sharesKey(with: keyRing) else {
            throw ValidationError(
                "JULES_BLIND_INDEX_KEY must not be one of the JULES_ENCRYPTION_KEYS: each key has one use "
                    + "(`jules keygen` prints a fresh set)")
        }
        cipher = PIICipher(keyRing: keyRing, blindIndex: blindIndex)
        defaultRegion = try Self.region()
    }

    static func region() throws -> Region {
        let code = Environment.string("JULES_DEFAULT_REGION") ?? "US"
        guard let region = Region(code: code), region.isSupported else {
            throw ValidationError(
                "JULES_DEFAULT_REGION must be a supported two-letter region code such as US, GB or DE, not \"\(code)\""
            )
        }
        return region
    }

    /// The most a key file may hold: far more than a ring of a hundred keys.
    static let keyFileLimit = 64 * 1024

    /// The bytes of a key file: a regular file (not a FIFO or a device, which could block or never end) of at most
    /// ``keyFileLimit`` bytes. Errors name the variable and the path, never the contents.
    private static func keyFileContents(_ path: String, variable: String) throws -> Data {
        // Checked before opening (opening a FIFO waits for a writer) and again on what was opened.
        var status = stat()
        guard stat(path, &status) == 0 else { throw ValidationError("\(variable) names \(path), which cannot be read") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ValidationError("\(variable) names \(path), which is not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationError("\(variable) names \(path), which cannot be read")
        }
        defer { try? handle.close() }
        guard fstat(handle.fileDescriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw ValidationError("\(variable) names \(path), which is not a regular file")
        }
        let data = (try? handle.read(upToCount: keyFileLimit + 1)) ?? nil
        guard let data else { throw ValidationError("\(variable) names \(path), which cannot be read") }
        guard data.count <= keyFileLimit else {
            throw ValidationError("\(variable) names \(path), which is larger than \(keyFileLimit / 1024) KiB")
        }
        return data
    }

    /// The value of `variable`, or the contents of the file `<variable>_FILE` names.
    private static func secret(_ variable: String, what: String) throws -> String {
        let fileVariable = variable + "_FILE"
        let direct = Environment.string(variable)
        let path = Environment.string(fileVariable)
        switch (direct, path) {
        case (let value?, nil):
            return value
        case (nil, let path?):
            let data = try keyFileContents(path, variable: fileVariable)
            guard let text = String(data: data, encoding: .utf8), !text.allSatisfy(\.isWhitespace) else {
                throw ValidationError("\(fileVariable) names \(path), which holds no key")
            }
            return text
        case (.some, .some):
            throw ValidationError("set \(variable) or \(fileVariable), not both")
        case (nil, nil):
            throw ValidationError(
                "\(variable) is not set (nor \(fileVariable)): it must hold \(what). "
                    + "`jules keygen` prints a fresh key set; scripts/run keeps one in var/keys.env"
            )
        }
    }
}
