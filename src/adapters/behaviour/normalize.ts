/**
 * Text as a pattern should see it. A model reads `ｒｍ -rf /`, `rm\u200B -rf /` and `rм -rf /`
 * (Cyrillic м) much as it reads `rm -rf /`, and an attacker hides instructions in characters a
 * person does not see. So patterns run on a folded copy: compatibility forms (full-width letters)
 * unified, invisible characters removed, Unicode tag characters (invisible ASCII) decoded, and the
 * common Cyrillic and Greek look-alikes of Latin letters replaced.
 */

/** Zero-width and direction-control characters, the soft hyphen, the BOM. */
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u206A-\u206F\uFEFF]/g;
/** Unicode tag characters U+E0020–U+E007E: an invisible copy of printable ASCII. */
const TAGS = /[\u{E0020}-\u{E007E}]/gu;
const INVISIBLE_OR_TAG = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u206A-\u206F\uFEFF\u{E0000}-\u{E007F}]/u;
/**
 * What hides text from a reader: tag characters, zero-width spaces and joiners that are not the
 * one inside emoji sequences (U+200D), direction overrides (Trojan Source). A soft hyphen or an
 * emoji's joiner is ordinary text.
 */
const HIDING = /[\u200B\u200C\u2060-\u2064\uFEFF\u202A-\u202E\u2066-\u2069\u{E0000}-\u{E007F}]/u;

/** Cyrillic and Greek letters drawn like Latin ones (the pairs confusables.txt lists most often). */
const LOOKALIKES: Record<string, string> = {
  а: "a", в: "b", е: "e", к: "k", м: "m", н: "h", о: "o", р: "p", с: "c", т: "t", у: "y", х: "x", ѕ: "s", і: "i", ј: "j", ԁ: "d", ӏ: "l", ԛ: "q", ԝ: "w",
  А: "A", В: "B", Е: "E", К: "K", М: "M", Н: "H", О: "O", Р: "P", С: "C", Т: "T", У: "Y", Х: "X", Ѕ: "S", І: "I", Ј: "J",
  α: "a", ο: "o", ρ: "p", ν: "v", τ: "t", ι: "i", κ: "k", Α: "A", Β: "B", Ε: "E", Η: "H", Ι: "I", Κ: "K", Μ: "M", Ν: "N", Ο: "O", Ρ: "P", Τ: "T", Χ: "X", Υ: "Y", Ζ: "Z",
};
const LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join("")}]`, "g");

/** The folded text, and whether it held characters a reader does not see. */
export interface Folded {
  text: string;
  hidden: boolean;
}

/** Folds `text` for matching (see the module comment). Linear in the length of the text. */
export function fold(text: string): Folded {
  const hidden = HIDING.test(text);
  let out = text.normalize("NFKC");
  if (INVISIBLE_OR_TAG.test(out)) out = out.replace(TAGS, (c) => String.fromCharCode(c.codePointAt(0)! - 0xe0000)).replace(INVISIBLE, "").replace(/[\u{E0000}-\u{E007F}]/gu, "");
  out = out.replace(LOOKALIKE, (c) => LOOKALIKES[c] ?? c);
  return { text: out, hidden };
}
