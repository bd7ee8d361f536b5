# One image for the API and the workers (the command picks the role).
FROM node:20-bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY config ./config
COPY src ./src
COPY workers ./workers
COPY data ./data
COPY bin ./bin
COPY tsconfig.json ./
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
