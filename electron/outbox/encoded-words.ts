/**
 * Header text as a person reads it: RFC 2047 encoded-words (=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=, =?ISO-8859-1?B?...?=)
 * decoded, for lists that show a kept mail's subject. Never used on what is sent: the mail goes out byte for byte.
 */
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
/** Whitespace between two encoded-words is not part of the text (RFC 2047 section 6.2). */
const BETWEEN_WORDS = /(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)/g;

export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  return text.replace(BETWEEN_WORDS, '$1').replace(ENCODED_WORD, (word, charset: string, encoding: string, encoded: string) => {
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(encoded, 'base64') : qBytes(encoded);
    try {
      // RFC 2231 lets a language follow the charset: UTF-8*en.
      return new TextDecoder(charset.split('*')[0]!.toLowerCase()).decode(bytes);
    } catch {
      return word; // a charset this runtime does not know: the word stays as it came
    }
  });
}

function qBytes(encoded: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i += 1) {
    const char = encoded[i]!;
    if (char === '_') bytes.push(0x20);
    else if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(char.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}
