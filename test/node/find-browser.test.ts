import { describe, expect, it } from 'vitest';
import { findBrowser } from '../setup/find-browser';

describe('findBrowser', () => {
  it('uses PUPPETEER_EXECUTABLE_PATH when it names an executable', () => {
    expect(findBrowser({ PUPPETEER_EXECUTABLE_PATH: process.execPath })).toBe(process.execPath);
  });

  it('refuses to fall back when PUPPETEER_EXECUTABLE_PATH names a missing file', () => {
    expect(() => findBrowser({ PUPPETEER_EXECUTABLE_PATH: '/nonexistent/chrome' })).toThrow(
      /PUPPETEER_EXECUTABLE_PATH is \/nonexistent\/chrome, which is missing/,
    );
  });
});
