import Foundation
import RAS

/// Bytes as a `.pbk` file through the strict (`Phonebook(data:)`) and the lenient
/// (`Phonebook.read(bytes:)`, what listing and dialing use) readers.
///
/// Properties: the strict reader throws only 622 or 625 and the lenient one only 622, for
/// the same inputs; the strict reader succeeds exactly when the lenient one finds no
/// problem, and then both give the same phonebook; the lenient phonebook's entry names are
/// non-empty and unique ignoring case; a phonebook read strictly and written back
/// (`data`) reads back equal — what the editor promises ("writing back changes only what
/// was edited").
enum PhonebookFuzz {
    static func run(_ input: [UInt8]) -> [String] {
        var violations: [String] = []
        var strict: Result<Phonebook, RasError>
        do throws(RasError) {
            strict = .success(try Phonebook(data: Data(input)))
        } catch {
            strict = .failure(error)
            if error.code != RasError.cannotLoadPhonebook.code && error.code != RasError.corruptPhonebook.code {
                violations.append("strict reader threw \(error)")
            }
        }
        var lenient: (phonebook: Phonebook, problems: [RasError])?
        do throws(RasError) {
            lenient = try Phonebook.read(bytes: input)
        } catch {
            if error.code != RasError.cannotLoadPhonebook.code {
                violations.append("lenient reader threw \(error)")
            }
            if case .failure(let strictError) = strict, strictError.code == RasError.cannotLoadPhonebook.code {
            } else {
                violations.append("lenient reader threw \(error.code), strict gave \(strict)")
            }
        }
        if let lenient {
            switch strict {
            case .success(let phonebook):
                if !lenient.problems.isEmpty {
                    violations.append("strict reader accepted what the lenient one found \(lenient.problems.count) problems in")
                }
                if lenient.phonebook != phonebook {
                    violations.append("strict and lenient readers differ on a valid phonebook")
                }
            case .failure(let error):
                if lenient.problems.isEmpty {
                    violations.append("strict reader threw \(error), the lenient one found no problem")
                }
            }
            var seen: Set<String> = []
            for name in lenient.phonebook.entryNames {
                if name.isEmpty { violations.append("entry with an empty name") }
                if !seen.insert(name.lowercased()).inserted { violations.append("entry name '\(name)' twice") }
            }
        }
        if case .success(let phonebook) = strict {
            let written = phonebook.data
            do throws(RasError) {
                let reread = try Phonebook(data: written)
                if reread != phonebook {
                    violations.append("written back as '\(show(written))', reads back different")
                }
            } catch {
                violations.append("written back as '\(show(written))', reads back with \(error)")
            }
        }
        return violations
    }
}
