import { describe, expect, it } from 'vitest';
import { clientAddress, NutConfigError, parseUpsConf, parseUpsdConf } from '../../src/nut/confParser.js';

/** Runs fn, expects a NutConfigError, returns it for field checks. */
function configError(fn: () => unknown): NutConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NutConfigError);
    return error as NutConfigError;
  }
  throw new Error('expected a NutConfigError');
}

describe('parseUpsConf', () => {
  it('reads global keys, sections, quoted values and flags', () => {
    const conf = parseUpsConf(
      [
        '# NUT ups.conf',
        'user = root',
        'maxretry = 3',
        '',
        '[cp1500]',
        '  driver = usbhid-ups',
        '  port = auto',
        '  desc = "CyberPower CP1500PFCLCD"   # trailing comment',
        '  vendorid = 0764',
        '  pollinterval = 5',
        '  nolock',
        '',
        '[q1]',
        '\tdriver = blazer_ser',
        '\tport = /dev/ttyS0',
      ].join('\n'),
    );
    expect(conf.global).toEqual({ user: 'root', maxretry: '3' });
    expect(conf.upses).toEqual([
      {
        name: 'cp1500',
        driver: 'usbhid-ups',
        port: 'auto',
        desc: 'CyberPower CP1500PFCLCD',
        options: { vendorid: '0764', pollinterval: '5', nolock: true },
        line: 5,
      },
      { name: 'q1', driver: 'blazer_ser', port: '/dev/ttyS0', options: {}, line: 13 },
    ]);
  });

  it('accepts key=value without spaces and a file without a final newline', () => {
    const conf = parseUpsConf('[a]\ndriver=dummy-ups\nport=a.dev\ndesc="x y"');
    expect(conf.upses[0]).toMatchObject({ driver: 'dummy-ups', port: 'a.dev', desc: 'x y' });
  });

  it('handles backslash escapes inside and outside quotes', () => {
    const conf = parseUpsConf(
      [
        '[a]',
        'driver = dummy-ups',
        'port = my\\ file.dev',
        'desc = "say \\"hi\\" \\\\ # not a comment"',
      ].join('\n'),
    );
    expect(conf.upses[0]?.port).toBe('my file.dev');
    expect(conf.upses[0]?.desc).toBe('say "hi" \\ # not a comment');
  });

  it('keeps an empty quoted value and a = inside quotes', () => {
    const conf = parseUpsConf('[a]\ndriver = d\nport = p\ndesc = ""\nsdorder = "a=b"');
    expect(conf.upses[0]?.desc).toBe('');
    expect(conf.upses[0]?.options.sdorder).toBe('a=b');
  });

  it('joins lines ending in a backslash and reports the first line', () => {
    const conf = parseUpsConf(
      '[a]\ndriver = d\nport = \\\np\ndesc = "one \\\ntwo"\n[b]\ndriver = d\nport = p',
    );
    expect(conf.upses[0]).toMatchObject({ port: 'p', desc: 'one two' });
    expect(conf.upses[1]?.line).toBe(7); // physical lines still count
  });

  it('treats CRLF like LF, and comments anywhere', () => {
    const conf = parseUpsConf(
      '# c\r\n[a] # header comment\r\n driver = d # x\r\n port = p\r\n#desc = "no"\r\n',
    );
    expect(conf.upses).toEqual([{ name: 'a', driver: 'd', port: 'p', options: {}, line: 2 }]);
  });

  it('ignores a leading byte order mark', () => {
    expect(parseUpsConf('\uFEFF[a]\ndriver = d\nport = p').upses[0]?.name).toBe('a');
  });

  it('lets the last of a repeated key win, like NUT', () => {
    expect(parseUpsConf('[a]\ndriver = x\ndriver = y\nport = p').upses[0]?.driver).toBe('y');
  });

  it('allows letters, digits, _, . and - in UPS names', () => {
    expect(parseUpsConf('[My_UPS-2.a]\ndriver = d\nport = p').upses[0]?.name).toBe('My_UPS-2.a');
  });

  describe('errors name the file, the line and the key', () => {
    it('section without driver', () => {
      const e = configError(() =>
        parseUpsConf('user = root\n\n[ups1]\n  port = auto\n', '/etc/nut/ups.conf'),
      );
      expect(e).toMatchObject({ file: '/etc/nut/ups.conf', line: 3, key: 'driver' });
      expect(e.message).toBe('/etc/nut/ups.conf:3: UPS [ups1] has no driver (key "driver")');
    });

    it('section without port', () => {
      const e = configError(() => parseUpsConf('[a]\ndriver = d\n[b]\ndriver = d\n', 'u.conf'));
      expect(e).toMatchObject({ file: 'u.conf', line: 1, key: 'port' });
      expect(e.message).toContain('u.conf:1');
      expect(e.message).toContain('"port"');
    });

    it('driver given as a bare flag or empty', () => {
      expect(configError(() => parseUpsConf('[a]\ndriver\nport = p'))).toMatchObject({
        line: 1,
        key: 'driver',
      });
      expect(configError(() => parseUpsConf('[a]\ndriver = ""\nport = p'))).toMatchObject({ key: 'driver' });
      expect(configError(() => parseUpsConf('[a]\ndriver = d\nport = p\ndesc'))).toMatchObject({
        key: 'desc',
      });
    });

    it('duplicate section (case-insensitive, as upsd compares names)', () => {
      const e = configError(() => parseUpsConf('[a]\ndriver = d\nport = p\n\n[A]\ndriver = d\nport = p'));
      expect(e).toMatchObject({ file: 'ups.conf', line: 5 });
      expect(e.message).toMatch(/^ups\.conf:5: duplicate section \[A\] \(first defined on line 1\)/);
    });

    it('bad section names', () => {
      expect(configError(() => parseUpsConf('[my ups]\ndriver = d\nport = p')).line).toBe(1);
      expect(configError(() => parseUpsConf('[]\ndriver = d\nport = p')).message).toMatch(/bad UPS name/);
      expect(configError(() => parseUpsConf('x = 1\n[a/b]\n')).line).toBe(2);
      expect(configError(() => parseUpsConf('[a] extra\n')).message).toMatch(/bad section header/);
      expect(configError(() => parseUpsConf('[a\n')).message).toMatch(/bad section header/);
    });

    it('unterminated quote reports the line where the quote opened', () => {
      const e = configError(() => parseUpsConf('[a]\ndriver = d\nport = p\ndesc = "open\nmore = 1\n'));
      expect(e).toMatchObject({ line: 4, key: 'desc' });
      expect(e.message).toMatch(/unterminated double quote/);
      expect(configError(() => parseUpsConf('[a]\ndesc = "open')).line).toBe(2);
    });

    it('garbage lines', () => {
      expect(configError(() => parseUpsConf('[a]\ndriver dummy-ups\nport = p'))).toMatchObject({
        line: 2,
        key: 'driver',
      });
      expect(configError(() => parseUpsConf('[a]\n= x\n'))).toMatchObject({ line: 2 });
      expect(configError(() => parseUpsConf('[a]\ndriver =\nport = p'))).toMatchObject({
        line: 2,
        key: 'driver',
      });
      const e = configError(() => parseUpsConf('[a]\ndriver = d\nport = p\ndesc = My UPS\n'));
      expect(e).toMatchObject({ line: 4, key: 'desc' });
      expect(e.message).toContain('quote it');
    });

    it('no UPS at all', () => {
      const e = configError(() => parseUpsConf('# nothing here\nuser = root\n', 'ups.conf'));
      expect(e).toMatchObject({ file: 'ups.conf', line: undefined, key: undefined });
      expect(e.message).toMatch(/^ups\.conf: no UPS defined/);
      expect(() => parseUpsConf('')).toThrow(NutConfigError);
    });
  });
});

describe('parseUpsdConf', () => {
  it('reads LISTEN (default port, several), MAXAGE, STATEPATH, MAXCONN and keeps the rest', () => {
    const conf = parseUpsdConf(
      [
        '# upsd.conf',
        'LISTEN 127.0.0.1 3494',
        'LISTEN ::1',
        'MAXAGE 5',
        'STATEPATH "/run/my nut"',
        'MAXCONN 1024',
        'CERTFILE /etc/nut/cert.pem',
        'TRACKINGDELAY 3600',
      ].join('\r\n'),
    );
    expect(conf).toEqual({
      listen: [
        { host: '127.0.0.1', port: 3494 },
        { host: '::1', port: 3493 },
      ],
      maxAge: 5,
      statePath: '/run/my nut',
      maxConn: 1024,
      other: { CERTFILE: ['/etc/nut/cert.pem'], TRACKINGDELAY: ['3600'] },
    });
  });

  it('accepts an empty file (upsd runs on its defaults)', () => {
    expect(parseUpsdConf('')).toEqual({ listen: [], other: {} });
  });

  it('keywords are case-sensitive, as in upsd: a lower-case listen is not a LISTEN', () => {
    expect(parseUpsdConf('listen 0.0.0.0 1234')).toEqual({
      listen: [],
      other: { listen: ['0.0.0.0', '1234'] },
    });
  });

  describe('errors name the file, the line and the key', () => {
    it.each([
      ['LISTEN 127.0.0.1 http', 'LISTEN'],
      ['LISTEN 127.0.0.1 0', 'LISTEN'],
      ['LISTEN 127.0.0.1 65536', 'LISTEN'],
      ['LISTEN 127.0.0.1 -1', 'LISTEN'],
      ['LISTEN', 'LISTEN'],
      ['LISTEN a 1 2', 'LISTEN'],
      ['MAXAGE fifteen', 'MAXAGE'],
      ['MAXAGE 15s', 'MAXAGE'],
      ['MAXAGE 0', 'MAXAGE'],
      ['MAXAGE = 15', 'MAXAGE'],
      ['MAXAGE', 'MAXAGE'],
      ['MAXCONN 1.5', 'MAXCONN'],
      ['STATEPATH', 'STATEPATH'],
      ['STATEPATH a b', 'STATEPATH'],
    ])('%s', (line, key) => {
      const e = configError(() => parseUpsdConf(`# header\n${line}\n`, '/etc/nut/upsd.conf'));
      expect(e).toMatchObject({ file: '/etc/nut/upsd.conf', line: 2, key });
      expect(e.message.startsWith('/etc/nut/upsd.conf:2: ')).toBe(true);
      expect(e.message).toContain(`(key "${key}")`);
    });

    it('unterminated quote', () => {
      expect(configError(() => parseUpsdConf('MAXAGE 5\nSTATEPATH "/run\n'))).toMatchObject({
        line: 2,
        key: 'STATEPATH',
      });
    });
  });
});

describe('clientAddress', () => {
  it('uses the first LISTEN', () => {
    expect(clientAddress(parseUpsdConf('LISTEN 192.168.1.2 4000\nLISTEN 127.0.0.1'))).toEqual({
      host: '192.168.1.2',
      port: 4000,
    });
  });

  it('turns wildcard addresses into loopback', () => {
    expect(clientAddress(parseUpsdConf('LISTEN 0.0.0.0 3500'))).toEqual({ host: '127.0.0.1', port: 3500 });
    expect(clientAddress(parseUpsdConf('LISTEN ::'))).toEqual({ host: '::1', port: 3493 });
  });

  it("falls back to upsd's default 127.0.0.1:3493", () => {
    expect(clientAddress(parseUpsdConf('MAXAGE 5'))).toEqual({ host: '127.0.0.1', port: 3493 });
  });
});

describe('NutConfigError', () => {
  it('is an Error with a readable name', () => {
    const e = new NutConfigError('boom', { file: 'f', line: 3, key: 'k' });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('NutConfigError');
    expect(e.message).toBe('f:3: boom (key "k")');
  });
});
