// Makes the compose file's mongod the one-node replica set `rs0`, its member
// named `mongodb:27017` (the name the servers and the seed reach it by), and
// waits until it is the writable primary. Run again, it changes nothing.
// server/tests/it/infra.rs checks the set's name and member against
// docker-compose.yml.
try {
  const status = rs.status();
  print(`replica set ${status.set} is already initiated`);
} catch (error) {
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
  print("replica set rs0 initiated");
}
for (let waited = 0; !db.hello().isWritablePrimary; waited++) {
  if (waited >= 60) {
    print("no primary after 60 s");
    quit(1);
  }
  sleep(1000);
}
print("mongodb:27017 is the primary of rs0");
