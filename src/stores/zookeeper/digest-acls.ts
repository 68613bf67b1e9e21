// The ACLs flowgate puts on the znodes it creates when given a digest credential.

import { createHash } from 'node:crypto';
import zookeeper, { type ACL } from 'node-zookeeper-client';

/** ACLs that let holders of the digest credential `user:password` do everything and everyone else only read. */
export function digestAcls(credential: string): ACL[] {
  const user = credential.slice(0, credential.indexOf(':'));
  const hash = createHash('sha1').update(credential).digest('base64');
  return [
    new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', `${user}:${hash}`)),
    new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id('world', 'anyone')),
  ];
}
