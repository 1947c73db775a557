import { MongoClient, type Db } from 'mongodb';

export interface MongoHandle {
  client: MongoClient;
  db: Db;
}

/** Connects to MONGO_URL; the database is the one named in the URL's path. */
export async function connectMongo(url: string): Promise<MongoHandle> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000, appName: 'ctp-etl' });
  await client.connect();
  return { client, db: client.db() };
}
