import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTransport } from 'nodemailer';
import { decodeEncodedWords } from '../../../electron/outbox/encoded-words';
import { headerField } from '../../../src-relay/index';

describe('encoded-words (RFC 2047) for display', () => {
  it('decodes Q and B words in UTF-8 and ISO-8859-1, joins adjacent words, keeps plain text', () => {
    assert.equal(decodeEncodedWords('Quarterly report'), 'Quarterly report');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?='), 'Grüße aus Köln');
    assert.equal(decodeEncodedWords('=?utf-8?b?8J+TpyBQb3N0?='), '📧 Post');
    assert.equal(decodeEncodedWords('=?ISO-8859-1?Q?Caf=E9?= au lait'), 'Café au lait');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?= =?UTF-8?Q?b?=  =?UTF-8?Q?_c?='), 'ab c');
    assert.equal(decodeEncodedWords('Re: =?UTF-8*en?Q?caf=C3=A9?= now'), 'Re: café now');
  });

  it('leaves what it cannot decode as it came', () => {
    assert.equal(decodeEncodedWords('=?x-no-such-charset?Q?abc?='), '=?x-no-such-charset?Q?abc?=');
    assert.equal(decodeEncodedWords('price =? 3'), 'price =? 3');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?100=?='), '100=');
  });

  it('gets back what nodemailer encoded, for subjects with markup, quotes and non-ASCII text', async () => {
    const transport = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    for (const subject of ['<img src=x onerror="alert(1)">Free <b>money</b>', 'Grüße, 日本語のテキスト, and a long tail '.repeat(4).trim()]) {
      const { message } = await transport.sendMail({ from: 'a@example.org', to: 'b@example.org', subject, text: 'x' });
      const raw = headerField((message as Buffer).toString('latin1'), 'Subject')!;
      assert.notEqual(raw, subject, 'nodemailer did encode it');
      assert.equal(decodeEncodedWords(raw), subject);
    }
  });
});
