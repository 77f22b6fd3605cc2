//! A blocking face for [`Producer`], for callers on plain threads.

use super::{KeyedMessage, Producer, ProducerConfig, ProducerError};
use crate::common::Properties;

/// [`Producer`] with a runtime of its own (one worker thread, which also runs the async
/// mode's send task). Methods block the calling thread; calling them from inside a tokio
/// runtime panics (use [`Producer`] there). Dropping it closes it (flushing the async
/// queue).
pub struct BlockingProducer {
    producer: Producer,
    runtime: tokio::runtime::Runtime,
}

impl BlockingProducer {
    pub fn new(config: ProducerConfig) -> Result<BlockingProducer, ProducerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kafka08-producer")
            .enable_all()
            .build()
            .map_err(|e| ProducerError::Runtime(e.to_string()))?;
        let producer = {
            let _guard = runtime.enter();
            Producer::new(config)
        };
        Ok(BlockingProducer { producer, runtime })
    }

    pub fn from_properties(props: &Properties) -> Result<BlockingProducer, ProducerError> {
        BlockingProducer::new(ProducerConfig::from_properties(props)?)
    }

    pub fn config(&self) -> &ProducerConfig {
        self.producer.config()
    }

    /// [`Producer::send`], blocking.
    pub fn send(&self, messages: Vec<KeyedMessage>) -> Result<(), ProducerError> {
        self.runtime.block_on(self.producer.send(messages))
    }

    pub fn send_one(&self, message: KeyedMessage) -> Result<(), ProducerError> {
        self.send(vec![message])
    }

    /// [`Producer::close`], blocking.
    pub fn close(&self) -> Result<(), ProducerError> {
        self.runtime.block_on(self.producer.close())
    }

    pub fn failed_message_count(&self) -> u64 {
        self.producer.failed_message_count()
    }
}

impl Drop for BlockingProducer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("closing the producer: {}", e);
        }
    }
}
