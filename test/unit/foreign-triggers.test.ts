import { describe, expect, it } from 'vitest'
import { dropForeignStatement, writesUsers } from '../../src/db/foreign-triggers.js'

describe('writesUsers', () => {
  it("recognises the bug report's trigger body", () => {
    expect(writesUsers(`BEGIN
      IF NEW.is_parent = TRUE AND NEW.family_id != OLD.family_id THEN
        UPDATE users
        SET family_id = NEW.family_id
        WHERE parent_id = NEW.id;
      END IF;
    END`)).toBe(true)
  })

  it.each([
    'UPDATE `users` SET x = 1',
    'update app.users u set u.x = 1',
    'UPDATE LOW_PRIORITY users SET x = 1',
    'UPDATE families f JOIN users u ON u.family_id = f.id SET u.x = 1',
    'INSERT INTO users (id) VALUES (1)',
    'INSERT IGNORE users SET id = 1',
    'REPLACE INTO `app`.`users` VALUES (1)',
    'DELETE FROM users WHERE id = OLD.id',
    'DELETE u FROM users u JOIN families f ON f.id = u.family_id',
  ])('writes: %s', (body) => {
    expect(writesUsers(`BEGIN ${body}; END`)).toBe(true)
  })

  it.each([
    'SET NEW.family_id = (SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id)',
    'INSERT INTO audit_log (user_id) SELECT id FROM users WHERE id = NEW.id',
    'UPDATE families SET updated_at = NOW() WHERE id = NEW.family_id',
    'UPDATE users_archive SET x = 1',
    "INSERT INTO log (note) VALUES ('update users set x = 1')",
    'DELETE FROM sessions WHERE user_id IN (SELECT id FROM users)',
  ])('does not write: %s', (body) => {
    expect(writesUsers(`BEGIN ${body}; END`)).toBe(false)
  })
})

describe('dropForeignStatement', () => {
  it('quotes the name', () => {
    expect(dropForeignStatement('odd`name')).toBe('DROP TRIGGER IF EXISTS `odd``name`')
  })
})
